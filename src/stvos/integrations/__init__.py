"""Adapters to outside services, each behind a small port with an embedded default."""
