"""The pgbench script made from stvos's captured heartbeat SQL: array parameters (a batch of
one) keep their session, user and progress ids as pgbench variables."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bench.anchors import heartbeat_script


def test_captured_arrays_become_array_literals_with_variables(tmp_path: Path) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    statements = [
        ("BEGIN ISOLATION LEVEL READ COMMITTED; SELECT set_config('a', '1', true)", ()),
        ("SELECT * FROM unnest(CAST($1 AS BIGINT[]), CAST($2 AS INTEGER[])) WHERE x = $3", [
            [501, 502], [None], 7,
        ]),
        ("UPDATE t SET c = u.c FROM unnest(CAST($1 AS BYTEA[]), CAST($2 AS TIMESTAMPTZ[]),"
         " CAST($3 AS INTEGER[])) AS u(c, d, e)", [[b"\x01"], [now], []]),
        ("COMMIT", ()),
    ]  # fmt: skip
    text = heartbeat_script(
        statements,
        variables={501: ("sid", 501), 7: ("uid", 7)},
        spread=10,
        path=tmp_path / "script.sql",
    )
    lines = text.splitlines()
    assert lines[:3] == ["\\set k random(0, 9)", "\\set sid 501 + :k", "\\set uid 7 + :k"]
    assert lines[3:5] == ["BEGIN;", "SELECT set_config('a', '1', true);"]
    assert "unnest(CAST(ARRAY[:sid, 502] AS BIGINT[]), CAST(ARRAY[NULL] AS INTEGER[]))" in lines[5]
    assert lines[5].endswith("WHERE x = :uid;")
    assert "CAST(ARRAY['\\x01'::bytea] AS BYTEA[])" in lines[6]
    assert f"CAST(ARRAY['{now.isoformat()}'] AS TIMESTAMPTZ[])" in lines[6]
    assert "CAST('{}' AS INTEGER[])" in lines[6]
    assert lines[-1] == "COMMIT;"
