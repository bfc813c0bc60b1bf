"""The signing key of sessions and rating tokens (SPEC 8): no built-in value.

A configured ``SECRET_KEY`` wins; otherwise the key is read from ``instance/secret_key``.
``flask --app kiosk db upgrade`` and ``demo serve`` / ``demo load`` create that file when
it is missing (:func:`ensure_key_file`); the application factory only reads it, so every
waitress process of a hall started on that instance folder signs with the same key.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask

KEY_FILE_NAME = "secret_key"

# Random bytes of a new key file (written as hex, so the file holds twice as many characters).
KEY_BYTES = 32

# A configured key shorter than this is refused: a short HMAC key falls to an offline
# search from a single captured cookie.
MIN_KEY_LENGTH = 16

# Keys that are public: the old built-in default, the usual tutorial values, and the
# values this project's README and config example ever showed. Compared case-insensitively
# with surrounding whitespace removed.
KNOWN_KEYS = frozenset(
    {
        "dev-only-change-me",
        "dev",
        "development",
        "changeme",
        "change-me",
        "change me",
        "change me to a long random string",
        "secret",
        "secret-key",
        "secretkey",
        "your-secret-key",
        "super-secret",
        "supersecret",
        "test",
        "test-secret",
        "default",
        "password",
        "key",
    }
)

FIX_HINT = (
    "run `flask --app kiosk db upgrade` (it creates {path} with a random key), "
    "or set SECRET_KEY in instance/config.py or the FLASK_SECRET_KEY environment variable "
    "to a long random value, e.g. the output of "
    '`python -c "import secrets; print(secrets.token_hex(32))"`'
)


class SecretKeyError(RuntimeError):
    """The application has no usable signing key; the message says how to fix it."""


def key_file(instance_path: str | os.PathLike[str]) -> Path:
    """Where the instance's generated key lives."""
    return Path(instance_path) / KEY_FILE_NAME


def check_key(key: object, origin: str, path: Path) -> str:
    """``key`` when it is usable; otherwise a :class:`SecretKeyError` naming ``origin``."""
    hint = FIX_HINT.format(path=path)
    if isinstance(key, bytes):
        try:
            key = key.decode("utf-8")
        except UnicodeDecodeError:
            key = key.hex()
    if not isinstance(key, str) or not key.strip():
        raise SecretKeyError(f"{origin} is empty: {hint}")
    if key.strip().lower() in KNOWN_KEYS:
        raise SecretKeyError(
            f"{origin} is a publicly known value ({key.strip()!r}); anyone could sign a "
            f"session cookie with it and open the back office. Remove it and {hint}"
        )
    if len(key) < MIN_KEY_LENGTH:
        raise SecretKeyError(
            f"{origin} is shorter than {MIN_KEY_LENGTH} characters and could be guessed: {hint}"
        )
    return key


def read_key_file(path: Path) -> str | None:
    """The key stored at ``path``; None when there is no such file.

    Refuses (``SecretKeyError``) a file that others may read: whoever reads the key can
    sign in as anyone.
    """
    try:
        text = path.read_text(encoding="utf-8")
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SecretKeyError(f"cannot read {path}: {exc.strerror}") from None
    if os.name == "posix" and mode & 0o077:
        raise SecretKeyError(
            f"{path} may be read by other users of this machine (mode {mode & 0o777:o}); "
            f"make it readable by its owner only: chmod 600 {path}"
        )
    return check_key(text.strip(), str(path), path)


def ensure_key_file(instance_path: str | os.PathLike[str]) -> tuple[Path, bool]:
    """Create the instance's key file when it is missing; returns (path, created).

    The file is written whole under a temporary name and then linked into place, which
    fails when another process got there first: two commands started together end up
    with one key, never a half-written file.
    """
    path = key_file(instance_path)
    if path.exists():
        return path, False
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{KEY_FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_hex(KEY_BYTES) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o600)  # the umask may have taken bits away, never added them
        try:
            os.link(temporary, path)
        except FileExistsError:
            return path, False
    finally:
        temporary.unlink(missing_ok=True)
    return path, True


def install_key_file(app: Flask) -> Path | None:
    """For the commands that prepare an instance: create the key file when no key is
    configured and none is stored, and give ``app`` the stored key.

    Returns the path of a newly created file (for the command to mention), else None.
    """
    if app.config["SECRET_KEY"] and "secret_key_missing" not in app.extensions:
        return None
    path, created = ensure_key_file(app.instance_path)
    app.config["SECRET_KEY"] = read_key_file(path)
    app.extensions.pop("secret_key_missing", None)
    return path if created else None
