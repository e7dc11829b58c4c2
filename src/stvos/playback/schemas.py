from __future__ import annotations

from datetime import datetime

from pydantic import Field

from stvos.kit.schemas import ApiModel, RequestModel


class StartIn(RequestModel):
    class_id: int = Field(ge=1, le=2**63 - 1)
    device_id: str | None = Field(default=None, min_length=1, max_length=64)


class HeartbeatIn(RequestModel):
    position: int = Field(ge=0, le=24 * 3600, description="Playback position in seconds")


class EndIn(RequestModel):
    position: int | None = Field(default=None, ge=0, le=24 * 3600)


class Progress(ApiModel):
    position: int = Field(description="Seconds into the video")
    watched_seconds: int = Field(description="Seconds of the video covered, across all sessions")
    percent_complete: float
    completed: bool
    completion_threshold: int = Field(description="Percent that completes the class")


class SessionOut(Progress):
    id: int
    class_id: int
    device_id: str | None
    status: str
    duration: int = Field(description="The class's length in minutes")
    started_at: datetime
    last_heartbeat_at: datetime
    ended_at: datetime | None
    credited_seconds: int = Field(description="Watching credited to this session")
