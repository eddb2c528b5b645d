"""Who may review: the serving token scheme (a bearer token from an environment variable, compared
in constant time), entered once in a login form that sets an HttpOnly SameSite=Strict session
cookie. Every POST made with the cookie carries the session's form token and, where the browser
sends one, a same-origin Origin (CSRF); a request with `Authorization: Bearer` needs neither.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.requests import Request

COOKIE = "mkd_review_session"


@dataclass(frozen=True)
class Session:
    reviewer: str
    csrf: str


@dataclass(frozen=True)
class Caller:
    """An authorized request: the reviewer's name and whether it came by bearer token."""

    reviewer: str
    session: Session | None
    bearer: bool = False


class Auth:
    """Sessions live in this process: a restart asks reviewers to log in again."""

    def __init__(self, token: str | None) -> None:
        self.token = token or None
        self.sessions: dict[str, Session] = {}
        self.login_csrf = secrets.token_urlsafe(24)  # the login form's own CSRF token

    @property
    def enabled(self) -> bool:
        return self.token is not None

    def token_ok(self, given: str) -> bool:
        if self.token is None:
            return True
        return hmac.compare_digest(given.strip().encode(), self.token.encode())

    def bearer(self, request: Request) -> bool:
        """An `Authorization: Bearer <token>` header with the right token."""
        if self.token is None:
            return False
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and self.token_ok(given)

    def login(self, reviewer: str) -> tuple[str, Session]:
        sid = secrets.token_urlsafe(32)
        session = Session(
            reviewer=reviewer.strip()[:80] or "unknown", csrf=secrets.token_urlsafe(24)
        )
        self.sessions[sid] = session
        return sid, session

    def logout(self, request: Request) -> None:
        self.sessions.pop(request.cookies.get(COOKIE, ""), None)

    def caller(self, request: Request) -> Caller | None:
        """The authorized caller, or None (the page then asks to log in)."""
        if self.bearer(request):
            reviewer = request.headers.get("x-reviewer", "").strip() or "api"
            return Caller(reviewer=reviewer[:80], session=None, bearer=True)
        session = self.sessions.get(request.cookies.get(COOKIE, ""))
        return Caller(session.reviewer, session) if session else None


def same_origin(request: Request) -> bool:
    """False when the browser says the request came from another site (Origin, else Referer,
    naming another host, or Sec-Fetch-Site cross-site); True when it says nothing against."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source or source == "null":
        return source is None
    host = request.headers.get("host", "")
    return urlsplit(source).netloc == host


def csrf_ok(request: Request, caller: Caller, form_token: str) -> bool:
    """A POST is genuine: by bearer token, or same-origin with the session's form token."""
    if caller.bearer:
        return True
    if caller.session is None or not same_origin(request):
        return False
    return hmac.compare_digest(form_token.encode(), caller.session.csrf.encode())
