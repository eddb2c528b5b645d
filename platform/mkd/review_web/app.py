"""The review web app: FastAPI, server-rendered pages, decisions stored as review overrides.

GET /login, POST /login, POST /logout, GET / (the items), GET /items/{n} (one item: query,
teacher and student side by side), POST /items/{n}/decide (verdict=accept|correct|reject),
GET /healthz. Forms are urlencoded and parsed here (no multipart dependency).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from mkd.review_web.auth import COOKIE, Auth, Caller, csrf_ok, same_origin
from mkd.review_web.decisions import (
    Decision,
    DecisionError,
    latest_decisions,
    review_row,
    store_decision,
)
from mkd.review_web.diff import diff_html, pretty
from mkd.review_web.items import ReviewItem
from mkd.review_web.templates import render
from mkd.storage import Store
from mkd.tasks import TaskPack

MAX_FORM_BYTES = 256 * 1024


@dataclass
class ItemSnapshot:
    """The items as the store holds them now, with the evaluation they came from."""

    items: list[ReviewItem]
    eval_id: str | None
    problems: tuple[str, ...]


@dataclass
class ReviewContext:
    """What the app serves: the items of one dataset version and where decisions go.

    With `reload`, the item list follows the store while the page runs (a new evaluation, more
    labeled records): at most every `refresh_s` seconds, the index re-reads it. A listed item
    keeps its number (its answers are updated) and new items are appended, so the numbers a
    reviewer has open keep meaning the same item.
    """

    store: Store
    pack: TaskPack
    dataset: str
    version: str
    items: list[ReviewItem]
    eval_id: str | None = None
    problems: tuple[str, ...] = ()
    token_env: str = "MKD_SERVE_TOKEN"
    default_reviewer: str = ""
    reload: Callable[[], ItemSnapshot] | None = None
    refresh_s: float = 30.0
    _loaded_at: float = field(default_factory=time.monotonic)

    def refresh(self) -> int:
        """Re-read the items when due (listed ones updated in place, new ones appended);
        returns how many were appended."""
        if self.reload is None or time.monotonic() - self._loaded_at < self.refresh_s:
            return 0
        snapshot = self.reload()
        self._loaded_at = time.monotonic()
        position = {item.id: n for n, item in enumerate(self.items)}
        new = [item for item in snapshot.items if item.id not in position]
        for item in snapshot.items:  # a listed item keeps its number, with fresh answers
            if item.id in position:
                self.items[position[item.id]] = item
        self.items.extend(new)
        self.eval_id, self.problems = snapshot.eval_id, snapshot.problems
        return len(new)


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[-1] for k, v in parsed.items()}


def create_app(ctx: ReviewContext, token: str | None) -> FastAPI:
    """The app; `token` None serves without a login token (loopback only: the CLI enforces it)."""
    app = FastAPI(title="mkd review", docs_url=None, redoc_url=None, openapi_url=None)
    auth = Auth(token)
    app.state.auth = auth
    label = f"{ctx.dataset}/{ctx.version}"

    def page(name: str, caller: Caller | None, status: int = 200, **extra: object) -> HTMLResponse:
        html = render(
            name,
            dataset=label,
            reviewer=caller.reviewer if caller else None,
            csrf=caller.session.csrf if caller and caller.session else "",
            **extra,
        )
        headers = {
            "Cache-Control": "no-store",
            "X-Frame-Options": "DENY",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
            "script-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
            "Referrer-Policy": "same-origin",
        }
        return HTMLResponse(html, status_code=status, headers=headers)

    def to_login() -> RedirectResponse:
        return RedirectResponse("/login", status_code=303)

    def login_page(error: str = "", status: int = 200) -> HTMLResponse:
        return page(
            "login.html",
            None,
            status,
            error=error,
            need_token=auth.enabled,
            token_env=ctx.token_env,
            default_reviewer=ctx.default_reviewer,
            login_csrf=auth.login_csrf,
        )

    @app.get("/healthz")
    def healthz() -> dict[str, object]:
        return {"ok": True, "items": len(ctx.items)}

    @app.get("/login", response_class=HTMLResponse)
    def login_form() -> HTMLResponse:
        return login_page()

    @app.post("/login")
    async def login(request: Request) -> Response:
        form = await _form(request)
        if not same_origin(request) or form.get("csrf") != auth.login_csrf:
            return login_page("the form is stale or came from another site: try again", 403)
        if not auth.token_ok(form.get("token", "")):
            return login_page(f"wrong token (it is the value of ${ctx.token_env})", 401)
        if not form.get("reviewer", "").strip():
            return login_page("enter your name: it is recorded with each decision", 400)
        sid, _ = auth.login(form["reviewer"])
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            COOKIE,
            sid,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        return response

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        caller = auth.caller(request)
        form = await _form(request)
        if caller and csrf_ok(request, caller, form.get("csrf", "")):
            auth.logout(request)
        response = to_login()
        response.delete_cookie(COOKIE, path="/")
        return response

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request) -> Response:
        caller = auth.caller(request)
        if caller is None:
            return to_login()
        ctx.refresh()
        decisions = latest_decisions(ctx.store, ctx.dataset, ctx.version)
        open_items = [n for n, it in enumerate(ctx.items, 1) if it.id not in decisions]
        return page(
            "index.html",
            caller,
            items=ctx.items,
            decisions=decisions,
            done=sum(it.id in decisions for it in ctx.items),
            first_open=open_items[0] if open_items else 1,
            eval_id=ctx.eval_id,
            problems=ctx.problems,
        )

    def item_page(
        caller: Caller, n: int, editor: str | None = None, errors: list[str] | None = None,
        notes: str = "", status: int = 200,
    ) -> HTMLResponse:  # fmt: skip
        item = ctx.items[n - 1]
        decision = latest_decisions(ctx.store, ctx.dataset, ctx.version).get(item.id)
        if editor is None:  # a correction already made is where the editor starts
            corrected = decision and decision["verdict"] == "correct"
            editor = pretty(decision["output"] if corrected else item.teacher)
        return page(
            "item.html",
            caller,
            status,
            n=n,
            total=len(ctx.items),
            item=item,
            decision=decision,
            teacher_html=diff_html(item.teacher, item.student),
            student_html=diff_html(item.student, item.teacher),
            editor=editor,
            errors=errors or [],
            notes=notes,
            prev=n - 1 if n > 1 else None,
            next=n + 1 if n < len(ctx.items) else None,
            eval_id=ctx.eval_id,
        )

    @app.get("/items/{n}", response_class=HTMLResponse)
    def item(n: int, request: Request) -> Response:
        caller = auth.caller(request)
        if caller is None:
            return to_login()
        if not 1 <= n <= len(ctx.items):
            return HTMLResponse("no such item", status_code=404)
        return item_page(caller, n)

    @app.post("/items/{n}/decide")
    async def decide(n: int, request: Request) -> Response:
        caller = auth.caller(request)
        if caller is None:
            return JSONResponse({"error": "log in or send Authorization: Bearer"}, status_code=401)
        form = await _form(request)
        if not csrf_ok(request, caller, form.get("csrf", "")):
            return JSONResponse({"error": "CSRF check failed: reload the page"}, status_code=403)
        if not 1 <= n <= len(ctx.items):
            return JSONResponse({"error": "no such item"}, status_code=404)
        item = ctx.items[n - 1]
        if form.get("item_id", item.id) != item.id:
            return JSONResponse({"error": "the item list changed: reload"}, status_code=409)
        decision = Decision(
            verdict=form.get("verdict", ""),
            reviewer=form.get("reviewer")
            if caller.bearer and form.get("reviewer")
            else caller.reviewer,
            corrected=form.get("corrected", ""),
            notes=form.get("notes", "").strip(),
        )
        try:
            row = review_row(ctx.pack, item, decision)
        except DecisionError as exc:
            if caller.bearer:
                return JSONResponse({"errors": exc.errors}, status_code=422)
            return item_page(caller, n, decision.corrected, exc.errors, decision.notes, 422)
        key = store_decision(ctx.store, ctx.dataset, ctx.version, row)
        if caller.bearer:
            return JSONResponse({"stored": ctx.store.uri_for(key), "review": row})
        following = n + 1 if n < len(ctx.items) else None
        return RedirectResponse(f"/items/{following}" if following else "/", status_code=303)

    return app
