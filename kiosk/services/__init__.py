"""Service layer: loads rows, calls the rules in :mod:`kiosk.rules`, stores results."""
