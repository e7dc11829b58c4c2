"""Errors of the live classes domain (each renders with its status and code)."""

from __future__ import annotations

from stvos.kit.errors import Conflict, NotFound


class LiveClassNotFound(NotFound):
    default_message = "Live class not found"


class ClassFull(Conflict):
    code = "CLASS_FULL"
    default_message = "This class is full"


class TrainerBusy(Conflict):
    """The trainer already teaches another live class at an overlapping time."""

    default_message = "The trainer already teaches a live class at that time"


class CapacityBelowRegistered(Conflict):
    default_message = "The capacity cannot be lower than the number of registered members"
