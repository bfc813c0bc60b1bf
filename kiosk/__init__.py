"""The hall attendance and window evaluation service; ``create_app`` is in :mod:`kiosk.app`."""

from kiosk.app import create_app

__all__ = ["create_app"]
