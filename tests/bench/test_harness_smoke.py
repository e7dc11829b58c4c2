"""A small run of the benchmark harness (bench/run.py) on SQLite with the Python load driver:
real servers, seeding, every scenario, the anchor and the report files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import run
from tests.support.databases import postgres_url


@pytest.mark.skipif(postgres_url() is not None, reason="the smoke run uses SQLite; once is enough")
def test_the_harness_runs_end_to_end_and_reports_every_scenario(tmp_path: Path) -> None:
    report = run.main(
        [
            "--database", "sqlite", "--scale", "small", "--duration", "1",
            "--connections", "4", "--workers", "1", "--load", "python", "--out", str(tmp_path),
        ]
    )  # fmt: skip
    assert json.loads((tmp_path / "report.json").read_text())["runs"]
    markdown = (tmp_path / "report.md").read_text()
    assert "## sqlite 1c-1k-200u" in markdown
    assert "## Targets" in markdown

    bare = report["anchors"]["bareAsgi"]
    assert bare["rps"] > 0
    assert bare["status"]["2xx"] == bare["requests"]
    assert report["anchors"]["argon2"]["hashesPerSecondOneCore"] > 0

    (sqlite,) = report["runs"]
    assert sqlite["counts"]["classesOfClient"] == 1_000
    assert sqlite["counts"]["users"] == 200
    scenarios = sqlite["scenarios"]
    assert set(scenarios) == set(run.SCENARIOS)
    for name, result in scenarios.items():
        assert result["rps"] > 0, name
        assert result["p99Ms"] >= result["p95Ms"] >= result["p50Ms"] > 0, name
        assert result["ratioToBare"] > 0, name
        assert result["peakRssMbPerWorker"], name
        assert result["status"]["5xx"] == 0, name
        # /health touches no table; every other scenario reads or writes the database.
        assert result["statementsPerRequest"] >= (0 if name == "health" else 1), name
        if name != "booking":  # a booking may meet a taken slot (409): that is real
            assert result["status"]["2xx"] == result["requests"], name
    booking = scenarios["booking"]["status"]
    assert booking["201"] > 0
    assert booking["201"] + booking["409"] == scenarios["booking"]["requests"]
    assert scenarios["login"]["argon2HashesPerSecondOneCore"] > 0
    voucher = sqlite["voucherBulk500"]
    assert len(voucher["msPerCall"]) == run.VOUCHER_CALLS
    assert voucher["statementsPerRequest"] > 0
    names = {t["target"] for t in report["targets"]}
    assert any(n.startswith("/health vs bare ASGI") for n in names)
    assert all(t["pass"] in (True, False, None) for t in report["targets"])
