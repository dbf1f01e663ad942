"""The sign-in endpoints: ``/api/auth/login``, ``/api/auth/session``, ``/api/auth/logout``
and ``/api/auth/logout-all``.

The session token travels only in an ``HttpOnly; SameSite=Strict`` cookie (``Secure`` over
https).  Non-browser clients may send ``Authorization: Bearer <token>`` instead.  Both failures
of a login (unknown user, wrong password) look the same and cost the same: one argon2 check.

A successful sign-in revokes the session it presented (and closes its sockets) and sets a
device cookie, the same way (``HttpOnly; SameSite=Strict``, sent only to the sign-in URL),
so that browser's later attempts are throttled apart from unknown clients
(:mod:`backend.throttle`).  Signing out everywhere revokes every session of the user, in
whichever storage, and closes their sockets on every replica.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from aiohttp import web

from app.wire.close_codes import UNAUTHORIZED
from app.wire.limits import MAX_FIELD
from app.wire.urls import LOGIN_URL, LOGOUT_ALL_URL, LOGOUT_URL, SESSION_URL
from backend.errors import json_error
from backend.keys import HUB, SETTINGS, STORAGE
from backend.metrics import count_sign_ins, count_validations
from backend.middleware import client_address, served_over_https
from backend.passwords import Busy, PasswordChecker
from backend.sessions import Session
from backend.storage import StorageUnavailable
from backend.throttle import DEVICE_LIFETIME

COOKIE_NAME = "pychat_sid"
DEVICE_COOKIE = "pychat_device"
MAX_BODY = 4096

CHECKER = web.AppKey("password_checker", PasswordChecker)

NO_STORE = {"Cache-Control": "no-store"}


class BadInput(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def session_body(session: Session) -> dict:
    return {"user": {"name": session.user_name}, "expires_at": iso(session.expires_at)}


def request_token(request: web.Request) -> str | None:
    """The session token from the cookie, or from ``Authorization: Bearer`` (non-browser)."""
    authorization = request.headers.get("Authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.cookies.get(COOKIE_NAME)


async def read_credentials(request: web.Request) -> tuple[str, str]:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise BadInput("The request body is too large.", status=413)
    if request.content_type != "application/json":
        raise BadInput("Send JSON with Content-Type: application/json.", status=415)
    raw = await request.read()  # all of it, however it was split (see body_deadline)
    if len(raw) > MAX_BODY:
        raise BadInput("The request body is too large.", status=413)
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BadInput("The request body is not valid JSON.") from None
    except RecursionError:  # e.g. a username 1,000 arrays deep
        raise BadInput("The request body is nested too deeply.") from None
    if not isinstance(data, dict):
        raise BadInput("Send a JSON object with username and password.")
    username, password = data.get("username"), data.get("password")
    for name, value in (("username", username), ("password", password)):
        if not isinstance(value, str) or not value:
            raise BadInput(f"The field {name!r} must be a non-empty string.", status=422)
        if len(value) > MAX_FIELD:
            raise BadInput(f"The field {name!r} is longer than {MAX_FIELD} characters.", 422)
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate ("\ud800") is JSON but not text
            raise BadInput(f"The field {name!r} is not valid text.", 422) from None
    return username, password


def set_session_cookie(response: web.Response, request: web.Request, token: str, max_age: float):
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=int(max_age),
        path="/",
        httponly=True,
        samesite="Strict",
        secure=served_over_https(request),
    )


def set_device_cookie(response: web.Response, request: web.Request, value: str) -> None:
    response.set_cookie(
        DEVICE_COOKIE,
        value,
        max_age=int(DEVICE_LIFETIME),
        path="/" + LOGIN_URL,  # the only place it is read
        httponly=True,
        samesite="Strict",
        secure=served_over_https(request),
    )


def clear_session_cookie(response: web.StreamResponse, request: web.Request) -> None:
    response.del_cookie(
        COOKIE_NAME,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=served_over_https(request),
    )


async def login(request: web.Request) -> web.Response:
    try:
        username, password = await read_credentials(request)
    except BadInput as exc:
        return json_error(exc.status, "bad_request", str(exc))
    storage = request.app[STORAGE]
    account, address = username.lower(), client_address(request)
    device = await storage.devices.recognise(request.cookies.get(DEVICE_COOKIE), account)
    wait = await storage.throttle.check(account, address, device)
    if wait is not None:
        return json_error(
            429,
            "throttled",
            f"Too many sign-in attempts. Try again in {wait} seconds.",
            headers={"Retry-After": str(wait)},
        )
    user = await storage.users.by_name(username)
    try:
        ok = await request.app[CHECKER].verify(user.password_hash if user else None, password)
    except Busy:
        return json_error(
            503, "busy", "The server is busy. Try again in a moment.", {"Retry-After": "1"}
        )
    await storage.throttle.record(account, address, success=ok, device=device)
    if not ok or user is None:
        return json_error(401, "invalid_credentials", "Wrong user name or password.")
    # The session this browser held (maybe another user's) ends here, not whenever it expires.
    presented = await storage.sessions.revoke(request_token(request))
    if presented is not None:
        await request.app[HUB].end_session(presented.token_hash, UNAUTHORIZED, "signed in again")
    token, session = await storage.sessions.create(user.id, user.name)
    response = web.json_response(session_body(session), headers=NO_STORE)
    max_age = session.expires_at - request.app[SETTINGS].clock()
    set_session_cookie(response, request, token, max_age)
    set_device_cookie(response, request, await storage.devices.issue(account))
    return response


async def current_session(request: web.Request) -> web.Response:
    session = await request.app[STORAGE].sessions.validate(request_token(request))
    if session is None:
        response = json_error(401, "not_signed_in", "Not signed in.", headers=NO_STORE)
        if COOKIE_NAME in request.cookies:
            clear_session_cookie(response, request)
        return response
    return web.json_response(session_body(session), headers=NO_STORE)


async def logout(request: web.Request) -> web.StreamResponse:
    try:
        session = await request.app[STORAGE].sessions.revoke(request_token(request))
    except StorageUnavailable:
        # The session cannot be revoked now, but this browser forgets its cookie anyway.
        response = json_error(
            503,
            "storage_unavailable",
            "Signed out here, but the server could not end the session. It ends by itself.",
            headers={"Retry-After": "2", **NO_STORE},
        )
        clear_session_cookie(response, request)
        return response
    if session is not None:  # every replica closes its sockets of this session
        await request.app[HUB].end_session(session.token_hash, UNAUTHORIZED, "signed out")
    response = web.Response(status=204, headers=NO_STORE)
    clear_session_cookie(response, request)
    return response


async def logout_all(request: web.Request) -> web.StreamResponse:
    """Sign out everywhere: every session of the presenting session's user ends, and every
    socket of them closes with 4401 on every replica.  Storage trouble is a 503 (middleware):
    unlike a plain sign-out, nothing here can be promised without the storage."""
    storage = request.app[STORAGE]
    session = await storage.sessions.validate(request_token(request))
    if session is None:
        response = json_error(401, "not_signed_in", "Not signed in.", headers=NO_STORE)
        clear_session_cookie(response, request)
        return response
    for digest in await storage.sessions.revoke_all(session.user_id):
        await request.app[HUB].end_session(digest, UNAUTHORIZED, "signed out everywhere")
    response = web.Response(status=204, headers=NO_STORE)
    clear_session_cookie(response, request)
    return response


def add_routes(app: web.Application) -> None:
    app.router.add_post("/" + LOGIN_URL, count_sign_ins(app, login))
    app.router.add_get("/" + SESSION_URL, count_validations(app, current_session))
    app.router.add_post("/" + LOGOUT_URL, logout)
    app.router.add_post("/" + LOGOUT_ALL_URL, logout_all)
