"""Import and export of the CSV and TOML interchange files (SPEC section 6).

An import is all or nothing: it runs in one transaction, reads the file row by row and
writes it in batches of ``store.WRITE_ROWS`` with set-based statements as it goes (a bulk
import of half a million punches is a hot path, and holds no list of its rows); once a
row is bad nothing more is written, every problem is still collected, and the
transaction is rolled back. Re-importing a file changes nothing:
rows are keyed as the SPEC says and only new or changed rows are written.
Raw punches are never updated: a punch whose key exists is left as it is.
"""

from kiosk.interchange.columns import COLUMNS, EXPORT_HEADER, KINDS
from kiosk.interchange.exporter import export_rows, write_csv
from kiosk.interchange.importer import (
    DEFAULT_LOCK_WAIT,
    IMPORT_BUSY,
    IMPORT_LOCK_KEY,
    import_file,
    take_import_lock,
)
from kiosk.interchange.kinds import import_hall, insert_punches
from kiosk.interchange.report import ImportFailed, ImportReport
from kiosk.interchange.rows import FIELD_LIMIT, CsvRows

__all__ = [
    "COLUMNS",
    "DEFAULT_LOCK_WAIT",
    "EXPORT_HEADER",
    "FIELD_LIMIT",
    "IMPORT_BUSY",
    "IMPORT_LOCK_KEY",
    "KINDS",
    "CsvRows",
    "ImportFailed",
    "ImportReport",
    "export_rows",
    "import_file",
    "import_hall",
    "insert_punches",
    "take_import_lock",
    "write_csv",
]
