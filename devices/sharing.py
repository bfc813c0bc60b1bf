"""A hall's readers share their templates (SPEC 7, issue 12): what the listener does for it.

A finger enrolled on one reader is copied to each other reader of the hall: LoadChar + UpChar
on the reader that holds it, DownChar (read back to check) + Search + Store on the other.
When a staff member's last assignment has ended, DeleteChar removes their templates from
every reader. Each copy or deletion is one job for one target reader, from a
``TemplateJobs`` source (the database one is ``kiosk.services.readers``); a job whose reader
is away waits, and runs when the reader is back. The template travels through the
listener's memory only: nothing here writes it anywhere.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from devices import protocol as p
from devices.client import ModuleClient
from devices.protocol import Confirmation as C


class Kind(enum.StrEnum):
    """What a template job does."""

    COPY = "copy"  # the template on ``source``/``source_page`` onto ``device``
    DELETE = "delete"  # the template on ``device``/``page`` deleted


@dataclass(frozen=True)
class TemplateJob:
    """One copy or deletion on reader ``device`` for staff member ``staff``.

    ``page`` is the page to delete (deletion); ``source`` and ``source_page`` where the
    template is read from (copy); ``taken`` the pages of ``device`` the database maps already
    (a copy is never stored on one, even when it is empty on the module).
    """

    id: int
    kind: Kind
    device: str
    staff: str
    page: int | None = None
    source: str | None = None
    source_page: int | None = None
    taken: frozenset[int] = frozenset()

    @property
    def readers(self) -> tuple[str, ...]:
        """The readers the job needs, each connected and idle while it runs."""
        if self.kind == Kind.COPY and self.source is not None:
            return (self.device, self.source)
        return (self.device,)


class Result(enum.StrEnum):
    """How a template job ended."""

    DONE = "done"  # copied (``page`` on the target) or deleted
    FAILED = "failed"  # will not succeed by trying again (``detail`` says why)
    RETRY = "retry"  # a reader went away meanwhile: the job waits for it again


@dataclass(frozen=True)
class TemplateOutcome:
    """The end of one run of a job; ``existed`` when the target had the finger already."""

    result: Result
    page: int | None = None
    detail: str = ""
    existed: bool = False


class TemplateJobs(Protocol):
    """Where template jobs come from and their outcomes go (the listener's templates thread
    calls it, never a reader's polling thread)."""

    def claim_templates(self, devices: list[str]) -> list[TemplateJob]:
        """Pending jobs whose readers are all in ``devices`` (one per target reader at most),
        now marked running."""

    def finish_template(self, job_id: int, outcome: TemplateOutcome) -> None:
        """Record the outcome: map (copy) or unmap (deletion) on done, back to pending on
        retry, failed otherwise."""


class TemplateRefused(Exception):
    """The module cannot take the template (its library is full, a page it refused)."""


def read_template(client: ModuleClient, page: int) -> bytes:
    """The characteristics file stored on ``page`` (LoadChar into CharBuffer 1, UpChar)."""
    return client.read_template(page, 1)


def install_template(
    client: ModuleClient, data: bytes, taken: frozenset[int] = frozenset()
) -> tuple[int, bool]:
    """Put ``data`` on the module: DownChar into CharBuffer 1 (read back to check), then a
    Search, so a finger the module knows already is not stored twice, else Store on the
    lowest free page not in ``taken``. Returns the page and whether it was there already."""
    client.download(data, 1)
    found = client.search(1)
    if found.found:
        return found.page, True
    used = client.used_pages()
    page = next((n for n in range(client.capacity) if n not in used and n not in taken), None)
    if page is None:
        raise TemplateRefused(f"the module's library is full ({client.capacity})")
    code = client.store(page, 1)
    if code != C.OK:
        raise TemplateRefused(f"storing on page {page} failed: {C.describe(code)}")
    return page, False


def delete_template(client: ModuleClient, page: int) -> None:
    """DeleteChar of ``page`` (an empty page is no error: deleting twice is harmless)."""
    code = client.delete(page, 1)
    if code != C.OK:
        raise p.ModuleError(code)
