"""The terminal API, version 1 (SPEC 9), mounted at ``/api/v1``."""

from __future__ import annotations

from kiosk.api.views import bp

__all__ = ["bp"]
