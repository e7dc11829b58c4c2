"""Key shapes: what reaches the database as an API key to look up."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from stvos.kit.security import looks_like_key, new_client_key, new_universal_key


def test_issued_keys_have_the_shape_that_is_looked_up() -> None:
    assert looks_like_key(new_client_key())
    assert looks_like_key(new_universal_key())


@pytest.mark.parametrize(
    "change",
    [
        lambda key: key + "a",  # too long
        lambda key: key[:-1],  # too short
        lambda key: key[:-1] + "-",  # outside base62
        lambda key: key[:-1] + "é",  # not ASCII
        lambda key: key + "\n",  # a trailing newline
        lambda key: "other_" + key[6:],  # another prefix
    ],
)
def test_anything_else_is_refused_before_the_database(change: Callable[[str], str]) -> None:
    assert not looks_like_key(change(new_client_key()))
