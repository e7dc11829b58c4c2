"""The demo client: a branded studio a newcomer can call at once (``stvos demo``)."""

from stvos.demo.service import ensure_demo

__all__ = ["ensure_demo"]
