"""The OpenAPI 3 document of the terminal API, served at ``/api/v1/openapi.json``.

Kept by hand next to the views; ``tests/ratings`` validates it with
openapi-spec-validator and checks every answer of the API against it.
"""

from __future__ import annotations

import copy
from typing import Any

from kiosk.services.ratings import COMMENT_MAX

_ERROR_CODES = [
    "invalid",
    "unauthorized",
    "wrong_terminal",
    "unknown_token",
    "not_found",
    "already_rated",
    "expired",
    "too_large",
    "too_many_requests",
    "internal",
]


def _error(description: str, codes: list[str]) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/json": {
                "schema": {
                    "allOf": [
                        {"$ref": "#/components/schemas/Error"},
                        {"type": "object", "properties": {"error": {"enum": codes}}},
                    ]
                }
            }
        },
    }


_UNAUTHORIZED = _error(
    "No key, a malformed `Authorization` header, an unknown or revoked key; or the counter "
    "page's session on a POST without a valid `X-CSRFToken`.",
    ["unauthorized"],
)

_TOO_LARGE = _error(
    "The body is over `MAX_CONTENT_LENGTH` (default 1 MiB); it was refused unread.",
    ["too_large"],
)
_INTERNAL = _error(
    "A fault of the service (never a judgement of the request); the call may be retried.",
    ["internal"],
)

_DOCUMENT: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {
        "title": "Hall evaluation terminal API",
        "version": "1",
        "description": (
            "Counter terminals open service sessions and post citizens' ratings (SPEC 9). "
            "A refused request changes nothing and leaves the token usable. When several "
            "errors apply to `POST /ratings`, the first of this order wins: body too large "
            "(413), rate limit (429), wrong key (401), malformed body (400), another "
            "terminal's key (403), unknown token (404), already rated (409), expired (410), "
            "invalid content (400). A malformed body is one that is not a JSON object of "
            "the documented fields: not JSON, not an object, nested beyond reason, a field "
            "that is not documented, a missing `token` or `level`, a field of the wrong "
            "JSON type, or a text with a NUL or a lone surrogate; invalid content "
            "is a level outside 1–5, a bad review (level 1 or 2) without a reason, a "
            "reason not on the hall's list, reasons on a level 3–5 review, or a comment "
            f"over {COMMENT_MAX} characters."
        ),
    },
    "servers": [{"url": "/api/v1"}],
    "components": {
        "securitySchemes": {
            "terminalKey": {
                "type": "http",
                "scheme": "bearer",
                "description": (
                    "The key printed once by `flask --app kiosk terminals add`. The counter "
                    "page's signed-in session counts as the key."
                ),
            }
        },
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error", "message"],
                "properties": {
                    "error": {"type": "string", "enum": _ERROR_CODES},
                    "message": {"type": "string"},
                },
            },
            "SessionRequest": {
                "type": "object",
                "required": ["staff_no"],
                "additionalProperties": False,
                "properties": {
                    "staff_no": {
                        "type": "string",
                        "maxLength": 32,
                        "description": "Staff number of a staff member of the terminal's hall.",
                    },
                    "case_no": {
                        "type": "string",
                        "nullable": True,
                        "maxLength": 64,
                        "description": "The case (办件) served, if any.",
                    },
                },
            },
            "Session": {
                "type": "object",
                "required": ["session_id", "token", "rate_url", "expires_at"],
                "additionalProperties": False,
                "properties": {
                    "session_id": {"type": "string"},
                    "token": {
                        "type": "string",
                        "description": "Opaque rating token; works once, until expires_at.",
                    },
                    "rate_url": {
                        "type": "string",
                        "format": "uri",
                        "description": "Absolute URL of the phone rating page for the QR code.",
                    },
                    "expires_at": {
                        "type": "string",
                        "format": "date-time",
                        "description": "ISO 8601 with the hall's UTC offset.",
                    },
                },
            },
            "RatingRequest": {
                "type": "object",
                "required": ["token", "level"],
                "additionalProperties": False,
                "properties": {
                    "token": {"type": "string", "minLength": 1},
                    "level": {
                        "type": "integer",
                        "description": (
                            "5 非常满意, 4 满意, 3 基本满意, 2 不满意, 1 非常不满意. "
                            "Outside 1–5 is invalid content (400)."
                        ),
                    },
                    "reasons": {
                        "type": "array",
                        "nullable": True,
                        "items": {"type": "string"},
                        "description": (
                            "Required (at least one) for levels 1 and 2, each on the hall's "
                            "list; not given for levels 3 to 5."
                        ),
                    },
                    "comment": {"type": "string", "nullable": True, "maxLength": COMMENT_MAX},
                },
            },
            "RatingCreated": {
                "type": "object",
                "required": ["rating_id"],
                "additionalProperties": False,
                "properties": {
                    "rating_id": {
                        "type": "string",
                        "description": "The id that `export ratings` shows.",
                    }
                },
            },
        },
    },
    "paths": {
        "/sessions": {
            "post": {
                "operationId": "openSession",
                "summary": "Open a service session at the terminal's window",
                "security": [{"terminalKey": []}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/SessionRequest"}
                        }
                    },
                },
                "responses": {
                    "201": {
                        "description": "The session was opened.",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Session"}}
                        },
                    },
                    "400": _error(
                        "Malformed body, unknown staff number or case number too long.",
                        ["invalid"],
                    ),
                    "401": _UNAUTHORIZED,
                    "413": _TOO_LARGE,
                    "500": _INTERNAL,
                },
            }
        },
        "/sessions/{session_id}/qr.png": {
            "get": {
                "operationId": "sessionQrCode",
                "summary": "The session's QR code (PNG) encoding its rate_url",
                "security": [{"terminalKey": []}],
                "parameters": [
                    {
                        "name": "session_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "The QR code.",
                        "content": {
                            "image/png": {"schema": {"type": "string", "format": "binary"}}
                        },
                    },
                    "401": _UNAUTHORIZED,
                    "404": _error("No such session in the terminal's hall.", ["not_found"]),
                    "409": _error("The session was rated already.", ["already_rated"]),
                    "410": _error(
                        "The session's token has expired, or the server's secret key changed "
                        "since it opened so its QR code cannot be drawn again.",
                        ["expired"],
                    ),
                    "500": _INTERNAL,
                },
            }
        },
        "/ratings": {
            "post": {
                "operationId": "rateSession",
                "summary": "Rate a session (counter rating with a key, QR rating without)",
                "description": (
                    "Rate-limited (`RATING_RATE_LIMIT`) per terminal key for counter "
                    "ratings and per client address for phone ratings (and for keys that "
                    "fail), across every process that shares `RATELIMIT_STORAGE_URI`. Only "
                    "the key of the terminal that opened the session rates it at the "
                    "counter. A rating, of either channel, less than 10 seconds after the "
                    "previous rating of a session opened by the same terminal is stored and "
                    "flagged as misuse."
                ),
                "security": [{"terminalKey": []}, {}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/RatingRequest"}
                        }
                    },
                },
                "responses": {
                    "201": {
                        "description": "The rating was stored.",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/RatingCreated"}
                            }
                        },
                    },
                    "400": _error("Malformed body or invalid content.", ["invalid"]),
                    "401": _error(
                        "An `Authorization` header was sent but its key is wrong or "
                        "revoked, or the counter page's session lacks a valid `X-CSRFToken`.",
                        ["unauthorized"],
                    ),
                    "403": _error(
                        "A valid key of another terminal (another window or hall) than the "
                        "one that opened the session.",
                        ["wrong_terminal"],
                    ),
                    "404": _error("Unknown or forged token.", ["unknown_token"]),
                    "409": _error("The session was rated already.", ["already_rated"]),
                    "410": _error("The token has expired.", ["expired"]),
                    "413": _TOO_LARGE,
                    "429": _error(
                        "Too many ratings from this terminal key, or from this address "
                        "without a valid key.",
                        ["too_many_requests"],
                    ),
                    "500": _INTERNAL,
                },
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapiDocument",
                "summary": "This document",
                "security": [],
                "responses": {
                    "200": {
                        "description": "The OpenAPI document.",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
    },
}


def openapi_document() -> dict[str, Any]:
    """A copy of the OpenAPI document (callers may not mutate the original)."""
    return copy.deepcopy(_DOCUMENT)
