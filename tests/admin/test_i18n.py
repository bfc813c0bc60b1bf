"""The English catalog: complete for the back office and the display, compiled, in use."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask.testing import FlaskClient

ROOT = Path(__file__).parents[2]
CATALOG = ROOT / "kiosk" / "translations" / "en" / "LC_MESSAGES"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}


def _msgids(directory: Path) -> set[str]:
    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    found = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(directory), method_map, keywords=KEYWORDS
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_back_office_and_display_string_has_an_english_translation() -> None:
    with (CATALOG / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale="en")
    translated = {m.id for m in catalog if m.id and m.string and "fuzzy" not in m.flags}
    wanted = _msgids(ROOT / "admin") | _msgids(ROOT / "kiosk" / "display")
    assert wanted and not sorted(wanted - translated)


def test_the_compiled_catalog_matches_the_po_file() -> None:
    with (CATALOG / "messages.po").open("rb") as handle:
        po = {m.id: m.string for m in read_po(handle, locale="en") if m.id and m.string}
    with (CATALOG / "messages.mo").open("rb") as handle:
        mo = {m.id: m.string for m in read_mo(handle) if m.id}
    assert po == mo


def test_login_page_in_english(client: FlaskClient) -> None:
    page = client.get("/admin/login?lang=en").get_data(as_text=True)
    assert "Back-office sign-in" in page and "Username" in page and 'lang="en"' in page
    assert "后台登录" in client.get("/admin/login").get_data(as_text=True)


def test_back_office_pages_in_english(login_as: Callable[..., FlaskClient]) -> None:
    client = login_as("duty")
    page = client.get("/admin/today?lang=en").get_data(as_text=True)
    assert "Today&#39;s hall" in page or "Today's hall" in page
    assert "Attendance corrections" in page  # navigation (lazy strings)
    weekly = client.get("/admin/reports/weekly?week=2026-W41&lang=en").get_data(as_text=True)
    assert "Weekly attendance report" in weekly and "Late" in weekly


def test_language_switch_sets_a_cookie(client: FlaskClient) -> None:
    response = client.get("/admin/lang/en?next=/admin/login")
    assert response.status_code == 302 and response.headers["Location"] == "/admin/login"
    assert "Back-office sign-in" in client.get("/admin/login").get_data(as_text=True)
    away = client.get("/admin/lang/en?next=https://evil.example/")
    assert away.headers["Location"] == "/admin/"
