"""/healthz is liveness (the Router answers); /readyz checks the Student and the teacher."""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from mkd.services.ports import free_ports

from serving import router as router_module
from serving.readiness import endpoint_reachable
from serving.router import RouterIngress


class _Call:
    def __init__(self, result) -> None:
        self.result = result

    def remote(self, *args):
        async def call():
            if isinstance(self.result, Exception):
                raise self.result
            if self.result == "hang":
                await asyncio.sleep(60)
            return self.result

        return call()


class Handle:
    def __init__(self, **methods) -> None:
        for name, result in methods.items():
            setattr(self, name, _Call(result))


def _router(student: Handle, teacher: Handle) -> RouterIngress:
    return RouterIngress(student, teacher, {"guards": {"enabled": False}})


def _probe(router: RouterIngress) -> tuple[int, dict]:
    response = asyncio.run(router.readyz())
    return response.status_code, json.loads(response.body)


def test_ready_when_the_student_is_loaded_and_the_teacher_reachable() -> None:
    router = _router(Handle(info={"pid": 1}), Handle(ready={"ready": True, "reason": None}))
    assert _probe(router) == (
        200,
        {"status": "ready", "checks": {"student": "ok", "teacher": "ok"}},
    )
    assert asyncio.run(router.healthz()) == {"status": "ok"}


def test_not_ready_while_the_student_is_loading(monkeypatch) -> None:
    monkeypatch.setattr(router_module, "READY_TIMEOUT_S", 0.2)
    router = _router(Handle(info="hang"), Handle(ready={"ready": True, "reason": None}))
    status, body = _probe(router)
    assert status == 503 and body["status"] == "not_ready"
    assert "student did not answer" in body["checks"]["student"]
    assert body["checks"]["teacher"] == "ok"
    assert asyncio.run(router.healthz()) == {"status": "ok"}  # alive all the same


def test_not_ready_when_the_teacher_is_down() -> None:
    down = {
        "ready": False,
        "reason": "teacher endpoint http://t/v1/models unreachable (ConnectError)",
    }
    status, body = _probe(_router(Handle(info={"pid": 1}), Handle(ready=down)))
    assert status == 503 and body["checks"]["teacher"] == down["reason"]
    status, body = _probe(_router(Handle(info={"pid": 1}), Handle(ready=RuntimeError("x.py"))))
    assert status == 503 and body["checks"]["teacher"] == "teacher unavailable (RuntimeError)"


@pytest.fixture
def endpoint():
    class Models(BaseHTTPRequestHandler):
        status = 401

        def do_GET(self):
            self.send_response(Models.status)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Models)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/v1", Models
    server.shutdown()


def test_an_endpoint_that_answers_below_500_is_reachable(endpoint) -> None:
    url, handler = endpoint
    assert asyncio.run(endpoint_reachable(url, 5)) is None  # 401: up, just wants a key
    handler.status = 503
    assert "answered 503" in asyncio.run(endpoint_reachable(url, 5))


def test_a_closed_port_is_unreachable() -> None:
    (port,) = free_ports(1)
    reason = asyncio.run(endpoint_reachable(f"http://127.0.0.1:{port}/v1", 2))
    assert reason.startswith("teacher endpoint") and "unreachable (ConnectError)" in reason


def test_the_teacher_deployment_checks_its_endpoint_and_trusts_in_process_backends() -> None:
    from serving.teacher import Teacher

    cls = Teacher.func_or_class
    (port,) = free_ports(1)
    remote = cls({"backend": "openai", "base_url": f"http://127.0.0.1:{port}/v1"}, "finance")
    state = asyncio.run(remote.ready())
    assert state["ready"] is False and "unreachable" in state["reason"]
    assert asyncio.run(cls({"backend": "stub"}, "finance").ready()) == {
        "ready": True,
        "reason": None,
    }
