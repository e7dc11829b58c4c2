"""Accounts: users of a client, sign-in, tokens, profiles, and the bearer layers of access."""
