"""Credential primitives: random keys, their prefixes and their stored hashes."""

from __future__ import annotations

import hashlib
import re
import secrets
import string

CLIENT_KEY_PREFIX = "fytos_"
UNIVERSAL_KEY_PREFIX = "fytos_uni_"
# Base62 has no "_", so a key's kind is unambiguous from its prefix.
_ALPHABET = string.ascii_letters + string.digits
_KEY_RANDOM_CHARS = 40  # ~238 bits of entropy
SHOWN_PREFIX_LENGTH = 12
# Checked on every request that carries a key: one regular expression, not a loop per character.
_KEY_BODY = re.compile(f"[A-Za-z0-9]{{{_KEY_RANDOM_CHARS}}}")


def new_key(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(_KEY_RANDOM_CHARS))


def new_client_key() -> str:
    return new_key(CLIENT_KEY_PREFIX)


def new_universal_key() -> str:
    return new_key(UNIVERSAL_KEY_PREFIX)


def is_universal_key(key: str) -> bool:
    return key.startswith(UNIVERSAL_KEY_PREFIX)


def looks_like_key(key: str) -> bool:
    """Cheap shape check so junk never reaches the database."""
    if not key.startswith(CLIENT_KEY_PREFIX):
        return False
    body = (
        key[len(UNIVERSAL_KEY_PREFIX) :] if is_universal_key(key) else key[len(CLIENT_KEY_PREFIX) :]
    )
    return _KEY_BODY.fullmatch(body) is not None


def hash_key(key: str) -> str:
    """SHA-256 hex. Keys are long and random, so a fast hash is safe (no dictionary to try)."""
    return hashlib.sha256(key.encode()).hexdigest()


def shown_prefix(key: str) -> str:
    return key[:SHOWN_PREFIX_LENGTH]
