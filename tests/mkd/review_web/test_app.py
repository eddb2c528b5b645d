"""The review app over HTTP (in process): login, cookie, CSRF, bearer, inline schema errors."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from mkd.data.review import load_overrides
from mkd.review_web.app import create_app
from mkd.review_web.auth import COOKIE
from mkd.review_web.server import AuthRefused, resolve_token, review_context

TOKEN = "s3cret-token"


@pytest.fixture
def client(review_store) -> TestClient:
    ctx = review_context(review_store.cfg, review_store.store, disagreements=5)
    return TestClient(create_app(ctx, TOKEN), follow_redirects=False)


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def _login(client: TestClient, token: str = TOKEN):
    page = client.get("/login").text
    return client.post("/login", data={"token": token, "reviewer": "ann", "csrf": _csrf(page)})


def test_pages_need_a_login_and_the_token(client):
    assert client.get("/").headers["location"] == "/login"
    assert client.post("/items/1/decide", data={"verdict": "accept"}).status_code == 401
    assert _login(client, "wrong").status_code == 401
    assert client.post("/login", data={"token": TOKEN, "reviewer": "ann"}).status_code == 403
    response = _login(client)
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(COOKIE) and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert TOKEN not in cookie
    index = client.get("/")
    assert index.status_code == 200 and "item(s) to review" in index.text


def test_posts_need_the_session_form_token_and_same_origin(client, review_store):
    _login(client)
    page = client.get("/items/1")
    assert page.status_code == 200 and 'id="teacher"' in page.text
    csrf = _csrf(page.text)
    assert client.post("/items/1/decide", data={"verdict": "accept"}).status_code == 403
    other_site = client.post(
        "/items/1/decide",
        data={"verdict": "accept", "csrf": csrf},
        headers={"origin": "http://evil.example"},
    )
    assert other_site.status_code == 403
    ok = client.post(
        "/items/1/decide",
        data={"verdict": "accept", "csrf": csrf},
        headers={"origin": "http://testserver"},
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/items/2"
    rows = load_overrides(review_store.store, "finance", "r1")
    assert [(r["verdict"], r["reviewer"]) for r in rows] == [("accept", "ann")]


def test_a_bad_correction_is_shown_inline_and_nothing_is_stored(client, review_store):
    _login(client)
    csrf = _csrf(client.get("/items/1").text)
    bad = client.post(
        "/items/1/decide",
        data={"verdict": "correct", "csrf": csrf, "corrected": '{"category": "NOPE"}'},
    )
    assert bad.status_code == 422
    assert 'id="errors"' in bad.text and "breaks the query_classifier schema" in bad.text
    assert "&#34;NOPE&#34;" in bad.text  # the editor keeps what was typed
    assert load_overrides(review_store.store, "finance", "r1") == []


def test_bearer_token_decides_without_a_cookie(client, review_store):
    headers = {"authorization": f"Bearer {TOKEN}", "x-reviewer": "bot"}
    response = client.post("/items/2/decide", data={"verdict": "reject"}, headers=headers)
    assert response.status_code == 200 and response.json()["review"]["verdict"] == "reject"
    bad = client.post(
        "/items/2/decide", data={"verdict": "correct", "corrected": "{"}, headers=headers
    )
    assert bad.status_code == 422 and "not valid JSON" in bad.json()["errors"][0]
    wrong = {"authorization": "Bearer nope"}
    assert (
        client.post("/items/2/decide", data={"verdict": "reject"}, headers=wrong).status_code == 401
    )
    assert [r["reviewer"] for r in load_overrides(review_store.store, "finance", "r1")] == ["bot"]


def test_no_token_refuses_to_start_unless_no_auth_on_loopback(monkeypatch):
    monkeypatch.delenv("MKD_TEST_TOKEN", raising=False)
    with pytest.raises(AuthRefused, match=r"set \$MKD_TEST_TOKEN"):
        resolve_token("MKD_TEST_TOKEN", "127.0.0.1", no_auth=False)
    with pytest.raises(AuthRefused, match=r"only allowed with --host 127\.0\.0\.1"):
        resolve_token("MKD_TEST_TOKEN", "0.0.0.0", no_auth=True)
    assert resolve_token("MKD_TEST_TOKEN", "127.0.0.1", no_auth=True) is None
    monkeypatch.setenv("MKD_TEST_TOKEN", " tok ")
    assert resolve_token("MKD_TEST_TOKEN", "0.0.0.0", no_auth=False) == "tok"


def test_no_auth_still_asks_a_name_and_checks_csrf(review_store):
    ctx = review_context(review_store.cfg, review_store.store)
    client = TestClient(create_app(ctx, None), follow_redirects=False)
    page = client.get("/login").text
    assert 'name="token"' not in page
    client.post("/login", data={"reviewer": "solo", "csrf": _csrf(page)})
    assert client.post("/items/1/decide", data={"verdict": "accept"}).status_code == 403
    csrf = _csrf(client.get("/items/1").text)
    assert (
        client.post("/items/1/decide", data={"verdict": "accept", "csrf": csrf}).status_code == 303
    )


def test_cli_refuses_to_serve_without_a_token(tmp_path, monkeypatch):
    from mkd.cli.main import app
    from typer.testing import CliRunner

    config = tmp_path / "pipeline.yaml"
    config.write_text(f'store: {{uri: "file://{tmp_path / "store"}"}}\n')
    monkeypatch.delenv("MKD_SERVE_TOKEN", raising=False)
    result = CliRunner().invoke(app, ["review", "serve", "-c", str(config)])
    assert result.exit_code == 2 and "no token" in result.output
    result = CliRunner().invoke(
        app, ["review", "serve", "-c", str(config), "--no-auth", "--host", "0.0.0.0"]
    )
    assert result.exit_code == 2 and "--no-auth is only allowed" in result.output


def test_the_index_picks_up_a_new_evaluation_and_keeps_item_numbers(review_store):
    """Started before any evaluation: a report written while the page runs adds its
    disagreements at the end; the items already listed keep their numbers."""
    rs = review_store
    saved = {key: rs.store.get_bytes(key) for key in rs.store.list("evals/")}
    for key in saved:
        rs.store.delete(key)
    ctx = review_context(rs.cfg, rs.store, disagreements=5, refresh_s=0.0)
    before = [item.id for item in ctx.items]
    assert ctx.eval_id is None and all("disagreement" not in i.kinds for i in ctx.items)
    client = TestClient(create_app(ctx, TOKEN), follow_redirects=False)
    _login(client)
    for key, data in saved.items():
        rs.store.put_bytes(key, data)
    index = client.get("/")
    assert index.status_code == 200
    assert [item.id for item in ctx.items][: len(before)] == before
    assert ctx.eval_id == rs.eval_id
    assert any("disagreement" in item.kinds for item in ctx.items)
    assert all(item.student is not None for item in ctx.items if "guard" not in item.kinds)
