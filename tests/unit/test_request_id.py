"""Request ids: a caller's well-formed id is kept, anything else is replaced."""

from __future__ import annotations

import re

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from bizlogic.api.request_id import RequestIdMiddleware


async def _echo(request: Request) -> JSONResponse:
    return JSONResponse({"seen": request.state.request_id})


@pytest.fixture
def client() -> TestClient:
    app = Starlette(routes=[Route("/", _echo)])
    app.add_middleware(RequestIdMiddleware)
    return TestClient(app)


def test_well_formed_caller_id_is_kept(client: TestClient) -> None:
    response = client.get("/", headers={"X-Request-ID": "lb-7f3a:42.b_c"})
    assert response.json() == {"seen": "lb-7f3a:42.b_c"}
    assert response.headers["x-request-id"] == "lb-7f3a:42.b_c"


@pytest.mark.parametrize("bad", ["has space", "x" * 129, "semi;colon", "newline\\n"])
def test_malformed_caller_id_is_replaced(client: TestClient, bad: str) -> None:
    response = client.get("/", headers={"X-Request-ID": bad})
    seen = response.json()["seen"]
    assert re.fullmatch(r"[0-9a-f]{32}", seen)
    assert response.headers["x-request-id"] == seen


def test_each_request_without_id_gets_a_fresh_one(client: TestClient) -> None:
    first = client.get("/").headers["x-request-id"]
    second = client.get("/").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", first) and first != second
