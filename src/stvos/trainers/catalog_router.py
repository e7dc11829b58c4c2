"""(being built)"""

from __future__ import annotations

from stvos.kit.routing import api_router

router = api_router(tags=["trainers"])
