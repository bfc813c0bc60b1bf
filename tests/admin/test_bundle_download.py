"""The bundle download on the published page (SPEC 13): who may, and that it is the CLI's."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

AS_OF = "2026-11-05T12:00:00+08:00"


def _publish(runner: FlaskCliRunner, by: str) -> None:
    result = runner.invoke(args=["publish", "2026-B5", "--as-of", AS_OF, "--by", by])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("role", ["leader", "duty"])
def test_each_viewing_role_downloads_the_bundle_the_cli_writes(
    app: Flask,
    login_as: Callable[..., FlaskClient],
    make_user: Callable[..., int],
    runner: FlaskCliRunner,
    tmp_path: Path,
    role: str,
) -> None:
    make_user("publisher", "leader")
    _publish(runner, "publisher")
    client = login_as(role, unit="SCJG" if role == "unit" else None)
    page = client.get("/admin/periods/2026-B5").get_data(as_text=True)
    assert 'id="bundle-download"' in page and "复核数据包" in page
    response = client.get("/admin/periods/2026-B5/bundle.zip?revision=1")
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert "bundle-QJ-2026-B5-r1.zip" in response.headers["Content-Disposition"]
    out = tmp_path / "cli.zip"
    cli = runner.invoke(args=["export", "bundle", "2026-B5", "--output", str(out)])
    assert cli.exit_code == 0, cli.output
    assert response.data == out.read_bytes()
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        assert "MANIFEST.json" in archive.namelist()


def test_a_unit_viewer_gets_no_bundle_of_every_units_data(
    login_as: Callable[..., FlaskClient], make_user: Callable[..., int], runner: FlaskCliRunner
) -> None:
    make_user("publisher", "leader")
    _publish(runner, "publisher")
    client = login_as("unit", unit="SCJG")
    assert 'id="bundle-download"' not in client.get("/admin/periods/2026-B5").get_data(as_text=True)
    assert client.get("/admin/periods/2026-B5/bundle.zip?revision=1").status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in(
    client: FlaskClient, make_user: Callable[..., int], runner: FlaskCliRunner, example_hall: Path
) -> None:
    make_user("publisher", "leader")
    _publish(runner, "publisher")
    response = client.get("/admin/periods/2026-B5/bundle.zip")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]


def test_an_unpublished_period_or_revision_is_not_found(
    login_as: Callable[..., FlaskClient], make_user: Callable[..., int], runner: FlaskCliRunner
) -> None:
    client = login_as("leader")
    assert client.get("/admin/periods/2026-B5/bundle.zip").status_code == 404
    _publish(runner, "leader-user")
    assert client.get("/admin/periods/2026-B5/bundle.zip?revision=2").status_code == 404
    assert client.get("/admin/periods/2026-B4/bundle.zip").status_code == 404


def test_a_publication_without_frozen_inputs_says_so(
    login_as: Callable[..., FlaskClient],
    runner: FlaskCliRunner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kiosk.services import bundle

    monkeypatch.setattr(bundle, "freeze", lambda *args, **kwargs: None)
    client = login_as("leader")
    _publish(runner, "leader-user")
    response = client.get("/admin/periods/2026-B5/bundle.zip")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/periods/2026-B5?revision=1")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "尚未保存输入数据" in page
