"""The demo hall: a realistic hall so that a new user sees a living hall at once.

``flask --app kiosk demo load`` (:mod:`kiosk.cli.demo`) writes a hall file and CSV files
(the interchange formats of SPEC section 6) into ``instance/demo/`` and imports them
through the ordinary import. :mod:`kiosk.demo.hall` generates the data,
:mod:`kiosk.demo.load` loads it (through the import and the account service),
:mod:`kiosk.demo.serve` runs ``demo serve``'s reader emulator, listener and web service.
"""

from kiosk.demo.hall import DEMO_HALL, DEMO_PASSWORD, DEMO_USERS, generate, period_start
from kiosk.demo.load import load_demo

__all__ = ["DEMO_HALL", "DEMO_PASSWORD", "DEMO_USERS", "generate", "load_demo", "period_start"]
