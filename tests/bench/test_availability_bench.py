"""A small run of the availability benchmark: it runs end to end and reports what it promises."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.support.databases import postgres_url

BENCH = Path(__file__).resolve().parents[2] / "bench" / "availability.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_availability", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(
    postgres_url() is not None, reason="the benchmark runs on SQLite; once is enough"
)
async def test_the_availability_benchmark_runs_and_reports() -> None:
    result = await _load().run(requests=5)
    assert result["scenario"] == "availability-30-days"
    assert result["slots"] > 0
    # The caller, trainer and service in one read, the calendar in another, whatever the window
    # (the sign-in check rides in the first).
    assert result["sqlStatementsPerRequest"] == 2
    assert result["p95Ms"] >= result["p50Ms"] > 0
    assert result["ratioToBaselineP50"] > 0
