from __future__ import annotations

from typing import Literal

from pydantic import Field

from stvos.kit.schemas import ApiModel


class Health(ApiModel):
    status: Literal["ok", "degraded"]
    timestamp: str
    uptime: float = Field(description="Seconds since this process started")
    version: str
    environment: str


class DependencyHealth(ApiModel):
    status: Literal["ok", "down"]
    latency_ms: float | None = None
    backend: str
    error: str | None = None


class Memory(ApiModel):
    rss_bytes: int
    max_rss_bytes: int


class Runtime(ApiModel):
    python: str
    platform: str
    pid: int


class DetailedHealth(Health):
    database: DependencyHealth
    rate_limiter: DependencyHealth
    memory: Memory
    runtime: Runtime
