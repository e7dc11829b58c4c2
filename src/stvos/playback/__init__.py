"""Playback: sessions of watching a class, honest coverage, resume, completion, the ledger."""
