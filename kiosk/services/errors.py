"""The one family of refusals the services raise (issue 10).

A service that will not do what it was asked raises a :class:`Refused` and changes
nothing. ``code`` is a short machine code (for the terminal API it is SPEC 9's ``error``
field); ``message`` says why, for people. Messages are written in Chinese through the
project's gettext, so in a web request they come out in the visitor's language and on
the command line as the Chinese source text.

Each edge translates a refusal into its own kind of answer, and only the edge knows that
kind: the terminal API maps ``code`` to an HTTP status in one table
(``kiosk.api.views.HTTP_STATUS``), the back-office pages flash ``message``, the commands
print it and exit 1. A service never names an HTTP status.

The members of the family name the concern that refused (an account change, a record,
a publication...), so a page can catch the refusals of the service it called and let any
other error through.
"""

from __future__ import annotations


class Refused(Exception):
    """A refused request: a short machine ``code`` and a ``message`` for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message


class Invalid(Refused):
    """A refusal raised with its message alone; the code is ``invalid`` unless named.

    The back-office services refuse mostly input they cannot accept, so their members
    derive from this one and name another code only where it tells more (``not_found``,
    ``conflict``).
    """

    def __init__(self, message: str, code: str = "invalid") -> None:
        super().__init__(code, message)


class AccountError(Invalid):
    """A refused account change or sign-in step (``kiosk.services.accounts``)."""


class RecordError(Invalid):
    """A refused correction punch, absence or hall event (``kiosk.services.records``)."""


class RosterError(Invalid):
    """A refused duty-roster change (``kiosk.services.roster``)."""


class PublishError(Invalid):
    """A refused publication; nothing was stored (``kiosk.services.publishing``)."""


class BundleError(Invalid):
    """A publication bundle that cannot be written or read (``kiosk.services.bundle``).

    ``not_found``: the publication has no frozen inputs; ``invalid``: the file is no
    bundle (not a zip, a file missing, too large, a name that is not one of the bundle's).
    """


class WorkOrderError(Invalid):
    """A verification or rectification that cannot be done (``kiosk.services.workorders``)."""


class PushError(Invalid):
    """A refused push step (``kiosk.services.push``): an unknown profile or address, or a
    resend of a record that is not rejected."""


class RatingRefused(Refused):
    """A refused terminal call, rating or service session (``kiosk.services.ratings``).

    Its codes are SPEC 9's: ``invalid``, ``unauthorized``, ``wrong_terminal``,
    ``unknown_token``, ``not_found``, ``already_rated``, ``expired`` and
    ``too_many_requests``.
    """
