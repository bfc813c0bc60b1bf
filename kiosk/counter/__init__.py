"""The counter touch screen (``/counter``) and the citizen's phone page (``/r/<token>``).

The counter page is signed in once with its terminal key (kept in the Flask session)
and then talks to the terminal API with that session. The phone page is plain HTML
forms, so it works on any phone browser, with or without JavaScript.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_wtf.csrf import generate_csrf
from sqlalchemy import or_, select

from kiosk.extensions import db
from kiosk.localtime import hall_zone, to_local
from kiosk.models import Assignment, Hall, Staff, Window, utcnow
from kiosk.rules.seating import holding_on
from kiosk.services.errors import RatingRefused
from kiosk.services.ratings import (
    COUNTER_SESSION_KEY,
    LEVEL_LABELS,
    LEVELS,
    Credentials,
    RatingContent,
    RatingPost,
    SessionInfo,
    TerminalIdentity,
    address_bucket,
    authenticate,
    bad_levels,
    client_tag,
    credentials_from_key,
    current_rating_limit,
    hall_reasons,
    session_by_public_id,
    session_by_token,
    submit_rating,
)
from kiosk.services.rulefile import rules_in_force
from kiosk.services.staffing import photo_digests, photo_of

bp = Blueprint(
    "counter",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/counter/static",
)


def _signed_in_terminal() -> TerminalIdentity | None:
    key_id = session.get(COUNTER_SESSION_KEY)
    if key_id is None:
        return None
    with db.engine.connect() as conn:
        terminal = authenticate(conn, Credentials(str(key_id), None))
    if terminal is None:
        # Revoked since it signed in: forget it so the page asks for a new key.
        session.pop(COUNTER_SESSION_KEY, None)
    return terminal


def initials(name: str) -> str:
    """Avatar text for a staff member without a photo: the last two characters of a Chinese name."""
    name = name.strip()
    if not name:
        return "?"
    if name.isascii():
        return "".join(part[0] for part in name.split()[:2]).upper()
    return name[-2:] if len(name) > 2 else name


def _staff_on_duty(window_id: int, hall: Hall, today: dt.date) -> list[dict[str, Any]]:
    """Staff whose effective assignment today is this window (the later start wins, SPEC 5.2)."""
    rows = db.session.execute(
        select(
            Assignment.staff_id, Assignment.window_id, Assignment.start_date, Assignment.end_date
        )
        .join(Staff, Staff.id == Assignment.staff_id)
        .where(
            Staff.hall_id == hall.id,
            Assignment.start_date <= today,
            or_(Assignment.end_date.is_(None), Assignment.end_date >= today),
        )
    ).all()
    spans: dict[int, list[Any]] = {}
    for row in rows:
        spans.setdefault(row.staff_id, []).append(row)
    ids = [
        staff_id
        for staff_id, held in ((sid, holding_on(rows, today)) for sid, rows in spans.items())
        if held is not None and held.window_id == window_id
    ]
    if not ids:
        return []
    staff = db.session.scalars(select(Staff).where(Staff.id.in_(ids)).order_by(Staff.staff_no))
    digests = photo_digests(db.session, ids)
    return [
        {
            "staff_no": s.staff_no,
            "name": s.name,
            "initials": initials(s.name),
            "photo": photo_url(s, digests.get(s.id)),
        }
        for s in staff
    ]


def photo_url(staff: Staff, digest: str | None) -> str | None:
    """Where the card's photo is: the one uploaded in the back office (its digest in the
    address, so a new photo is fetched at once and an unchanged one comes from the cache),
    else the ``photo`` address the staff row carries, else none (the initials show)."""
    if digest:
        return url_for("counter.staff_photo", staff_no=staff.staff_no, v=digest[:12])
    return staff.photo or None


def _counter_state(terminal: TerminalIdentity) -> dict[str, Any]:
    hall = db.session.get(Hall, terminal.hall_id)
    window = db.session.get(Window, terminal.window_id)
    assert hall is not None and window is not None
    today = to_local(utcnow(), hall_zone(hall.timezone)).date()
    return {
        "terminal": terminal.name,
        "hall": hall.name,
        "window": {"code": window.code, "name": window.name},
        "staff": _staff_on_duty(window.id, hall, today),
        "csrf_token": generate_csrf(),
    }


@bp.get("/counter")
def counter() -> Any:
    """The counter screen: 亮牌 when idle, then the citizen's rating."""
    terminal = _signed_in_terminal()
    if terminal is None:
        return redirect(url_for("counter.login"))
    state = _counter_state(terminal)
    hall = db.session.get(Hall, terminal.hall_id)
    assert hall is not None
    return render_template(
        "counter/counter.html",
        state=state,
        levels=[(level, str(LEVEL_LABELS[level])) for level in LEVELS],
        bad_levels=sorted(bad_levels()),
        reasons=hall_reasons(hall.settings),
    )


@bp.route("/counter/login", methods=["GET", "POST"])
def login() -> Any:
    """Sign the counter screen in with its terminal key, once."""
    error = None
    if request.method == "POST":
        key = request.form.get("key", "").strip()
        with db.engine.connect() as conn:
            credentials = credentials_from_key(key)
            terminal = authenticate(conn, credentials) if credentials else None
        if terminal is None:
            error = _("终端密钥无效或已停用，请核对后重新输入。")
        else:
            session.clear()
            session[COUNTER_SESSION_KEY] = terminal.key_id
            session.permanent = True
            return redirect(url_for("counter.counter"))
    return render_template("counter/login.html", error=error), 200 if error is None else 401


@bp.get("/counter/pair")
def pair() -> Any:
    """The pad's pairing page, opened from the QR code of a newly registered terminal.

    The key comes in the URL fragment (``#key=...``), which the browser never sends to
    the server, so no access log holds it; the page's script takes it from there, wipes
    it from the address bar and history, and signs in through the key form, as typing
    it would. Without a script or a key, the page is the key form.
    """
    response = make_response(render_template("counter/pair.html"))
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.post("/counter/logout")
def logout() -> Response:
    """Sign the counter screen out."""
    session.pop(COUNTER_SESSION_KEY, None)
    return redirect(url_for("counter.login"))  # type: ignore[return-value]


@bp.get("/counter/state")
def state() -> Any:
    """JSON for the page's idle refresh: staff on duty and a fresh CSRF token."""
    terminal = _signed_in_terminal()
    if terminal is None:
        return jsonify(error="unauthorized", message=_("终端未登录。")), 401
    return jsonify(_counter_state(terminal))


@bp.get("/counter/sessions/<public_id>/state")
def session_state(public_id: str) -> Any:
    """Whether a session opened here was rated meanwhile (e.g. by the citizen's phone), and
    whom it serves (name, avatar), for a staff member who is not on this window's cards."""
    terminal = _signed_in_terminal()
    if terminal is None:
        return jsonify(error="unauthorized", message=_("终端未登录。")), 401
    with db.engine.connect() as conn:
        info = session_by_public_id(conn, public_id)
    if info is None or info.hall_id != terminal.hall_id:
        return jsonify(error="not_found", message=_("没有这个服务记录。")), 404
    staff = db.session.get(Staff, info.staff_id)
    person = None
    if staff is not None:
        person = {
            "staff_no": staff.staff_no,
            "name": staff.name,
            "initials": initials(staff.name),
            "photo": photo_url(staff, photo_digests(db.session, [staff.id]).get(staff.id)),
        }
    return jsonify(state=info.state(utcnow()), staff=person)


@bp.get("/counter/photo/<staff_no>.jpg")
def staff_photo(staff_no: str) -> Any:
    """A staff member's photo for the 亮牌 card; only for a signed-in terminal of the hall."""
    terminal = _signed_in_terminal()
    if terminal is None:
        return jsonify(error="unauthorized", message=_("终端未登录。")), 401
    hall = db.session.get(Hall, terminal.hall_id)
    photo = photo_of(db.session, hall, staff_no) if hall is not None else None
    if photo is None:
        return jsonify(error="not_found", message=_("没有照片。")), 404
    response = Response(photo.content, mimetype="image/jpeg")
    response.headers["Cache-Control"] = "private, max-age=86400"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# --- the phone page ------------------------------------------------------------------


def _phone_page(info: SessionInfo | None, state: str, status: int = 200, **extra: Any) -> Any:
    if extra.get("level") in LEVEL_LABELS:
        extra["level_name"] = str(LEVEL_LABELS[extra["level"]])
    return (
        render_template(
            "counter/rate.html",
            info=info,
            state=state,
            levels=[(level, str(LEVEL_LABELS[level])) for level in LEVELS],
            bad_levels=sorted(bad_levels()),
            **extra,
        ),
        status,
    )


@bp.get("/r/<token>")
def rate(token: str) -> Any:
    """The phone rating page behind the QR code; a used, expired or unknown link says so kindly."""
    with db.engine.connect() as conn:
        info = session_by_token(conn, token)
    if info is None:
        return _phone_page(None, "unknown", 404)
    state = info.state(utcnow())
    if state == "rated":
        return _phone_page(info, "thanks" if request.args.get("done") else "rated")
    if state == "expired":
        return _phone_page(info, "expired", 410)
    return _phone_page(info, "levels")


@bp.post("/r/<token>")
def rate_post(token: str) -> Any:
    """Take the phone's rating; a bad review first asks for reasons (and an optional comment).

    Every post is counted per client address, like the API's phone calls (one budget).
    """
    limit = current_rating_limit()
    if limit is not None and limit.over(address_bucket(request.remote_addr)):
        return _phone_page(None, "busy", 429)
    # Read before the connection is taken (see submit_rating).
    rules = rules_in_force()
    with db.engine.connect() as conn:
        info = session_by_token(conn, token)
        if info is None:
            return _phone_page(None, "unknown", 404)
        level_text = request.form.get("level", "")
        level = int(level_text) if level_text in {str(v) for v in LEVELS} else None
        if level is None:
            return _phone_page(info, "levels", 400, error=_("请选择一个评价等级。"))
        chosen = request.form.getlist("reasons")
        comment = request.form.get("comment")
        asking_reasons = request.form.get("step") == "reasons"
        if level in bad_levels(rules) and not asking_reasons and info.state(utcnow()) == "open":
            return _phone_page(info, "reasons", level=level, chosen=[], comment="")
        content = RatingContent(token, level, chosen, comment)
        try:
            # Counted on the address above already, before the page looked at the token.
            tag = client_tag(current_app.config["SECRET_KEY"], request.remote_addr)
            submit_rating(
                conn,
                RatingPost(content=lambda: content, client_tag=tag),
                now=utcnow(),
                rules=rules,
            )
        except RatingRefused as refusal:
            if refusal.code == "already_rated":
                return _phone_page(info, "rated")
            if refusal.code == "expired":
                return _phone_page(info, "expired", 410)
            if refusal.code == "unknown_token":
                return _phone_page(None, "unknown", 404)
            step = "reasons" if level in bad_levels(rules) else "levels"
            return _phone_page(
                info,
                step,
                400,
                level=level,
                chosen=chosen,
                comment=comment or "",
                error=refusal.message,
            )
        conn.commit()
    return redirect(url_for("counter.rate", token=token, done=1))
