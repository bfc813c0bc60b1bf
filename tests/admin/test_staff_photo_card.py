"""A photo uploaded in the back office shows on the counter's 亮牌 card (issue 13)."""

from __future__ import annotations

import io
from pathlib import Path

from flask import Flask
from flask.testing import FlaskCliRunner
from PIL import Image

from kiosk.extensions import db
from kiosk.models import Hall
from kiosk.services import staffing
from tests.ratings.conftest import add_terminal
from tests.ratings.test_pages import sign_in_counter


def _upload(app: Flask, staff_no: str) -> str:
    image = io.BytesIO()
    Image.new("RGB", (900, 1200), (30, 120, 60)).save(image, "PNG")
    with app.app_context():
        hall = db.session.scalars(db.select(Hall)).one()
        photo = staffing.save_photo(
            db.session, hall, staff_no=staff_no, data=image.getvalue(), user_id=None
        )
        db.session.commit()
        return photo.sha256


def test_the_card_shows_the_uploaded_photo_to_the_terminal_only(
    app: Flask, runner: FlaskCliRunner, example_hall: Path
) -> None:
    key = add_terminal(runner)
    digest = _upload(app, "S001")
    anonymous = app.test_client()
    assert anonymous.get("/counter/photo/S001.jpg").status_code == 401
    counter = app.test_client()
    sign_in_counter(counter, key)
    staff = {p["staff_no"]: p for p in counter.get("/counter/state").get_json()["staff"]}
    assert staff["S001"]["photo"] == f"/counter/photo/S001.jpg?v={digest[:12]}"
    assert staff["S002"]["photo"] is None  # no photo: the card shows the initials
    picture = counter.get(staff["S001"]["photo"])
    assert picture.status_code == 200 and picture.mimetype == "image/jpeg"
    with Image.open(io.BytesIO(picture.data)) as image:
        assert image.size == (480, 640)
    assert counter.get("/counter/photo/S002.jpg").status_code == 404
    assert counter.get("/counter/photo/NOBODY.jpg").status_code == 404
