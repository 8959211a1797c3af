"""The error envelope: every error the API can produce has the same shape and leaks nothing."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

import pytest
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError, OperationalError

from bizlogic.api.errors import ApiError, ErrorCode, error_body, install_error_handlers


class Thresholds(BaseModel):
    min_confidence: float = Field(ge=0, le=1)
    name: str


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.middleware("http")
    async def test_request_id(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if "x-test-request-id" in request.headers:
            request.state.request_id = request.headers["x-test-request-id"]
        return await call_next(request)

    @app.post("/thresholds")
    def thresholds(body: Thresholds, limit: int = 10) -> dict[str, float]:
        return {"min_confidence": body.min_confidence}

    @app.get("/only-get")
    def only_get() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/conflict")
    def conflict() -> None:
        raise ApiError(409, ErrorCode.CONFLICT, "rule 3 already exists", details={"rule_id": 3})

    @app.get("/limited")
    def limited() -> None:
        raise ApiError(429, "RATE_LIMITED", "too many analyses", headers={"Retry-After": "5"})

    @app.get("/rule-missing")
    def rule_missing() -> None:
        raise HTTPException(404, "rule 7 not found")

    @app.get("/too-big")
    def too_big() -> None:
        raise HTTPException(413)

    @app.get("/integrity")
    def integrity() -> None:  # a database error that is a bug, not an outage
        raise IntegrityError("INSERT …", {"secret": "hunter2"}, Exception("duplicate key"))

    @app.get("/db-gone")
    def db_gone() -> None:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    @app.get("/teapot")
    def teapot() -> None:
        raise HTTPException(418, detail={"hint": "coffee"})

    @app.get("/bad-gateway")
    def bad_gateway() -> None:
        raise HTTPException(502, "upstream 10.0.0.5:5432 refused password for bl")

    @app.get("/unavailable")
    def unavailable() -> None:
        raise HTTPException(503, "database is unreachable", headers={"Retry-After": "10"})

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("password=hunter2 in DSN postgresql://bl:hunter2@db/bl")

    return app


@pytest.fixture(scope="module")
def client() -> TestClient:
    # ServerErrorMiddleware re-raises after answering so servers can log; observe the answer.
    return TestClient(_app(), raise_server_exceptions=False)


def _envelope(code: str, message: str, details: object = None) -> dict[str, object]:
    return {"error": {"code": code, "message": message, "details": details}}


def test_api_error_is_answered_with_its_envelope(client: TestClient) -> None:
    response = client.get("/conflict")
    assert response.status_code == 409
    assert response.json() == _envelope("CONFLICT", "rule 3 already exists", {"rule_id": 3})


def test_api_error_headers_are_kept(client: TestClient) -> None:
    response = client.get("/limited")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "5"
    assert response.json() == _envelope("RATE_LIMITED", "too many analyses")


def test_validation_error_lists_each_field_path_and_names_the_first_in_the_message(
    client: TestClient,
) -> None:
    response = client.post("/thresholds?limit=ten", json={"min_confidence": 2})
    assert response.status_code == 422
    assert response.json() == _envelope(
        "INVALID_REQUEST",
        "query.limit: Input should be a valid integer, unable to parse string as an integer"
        " (and 2 more)",
        [
            {
                "field": "query.limit",
                "message": "Input should be a valid integer, unable to parse string as an integer",
                "type": "int_parsing",
            },
            {
                "field": "body.min_confidence",
                "message": "Input should be less than or equal to 1",
                "type": "less_than_equal",
            },
            {"field": "body.name", "message": "Field required", "type": "missing"},
        ],
    )


def test_validation_error_never_echoes_the_rejected_input(client: TestClient) -> None:
    response = client.post(
        "/thresholds", json={"min_confidence": "s3cret-token-value", "name": "x"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"] == [
        {
            "field": "body.min_confidence",
            "message": "Input should be a valid number, unable to parse string as a number",
            "type": "float_parsing",
        }
    ]
    assert "s3cret-token-value" not in response.text


def test_invalid_json_names_the_body_and_the_position(client: TestClient) -> None:
    response = client.post(
        "/thresholds", content=b"{bad", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    message = "invalid JSON at character 1: Expecting property name enclosed in double quotes"
    assert response.json() == _envelope(
        "INVALID_REQUEST",
        f"body: {message}",
        [{"field": "body", "message": message, "type": "json_invalid"}],
    )


def test_unknown_route_is_not_found(client: TestClient) -> None:
    response = client.get("/no/such/route")
    assert response.status_code == 404
    assert response.json() == _envelope("NOT_FOUND", "not found")


def test_a_routes_own_404_text_is_kept(client: TestClient) -> None:
    response = client.get("/rule-missing")
    assert response.status_code == 404
    assert response.json() == _envelope("NOT_FOUND", "rule 7 not found")


def test_wrong_method_is_invalid_request_and_keeps_the_allow_header(client: TestClient) -> None:
    response = client.post("/only-get")
    assert response.status_code == 405
    assert response.json() == _envelope("INVALID_REQUEST", "method not allowed")
    assert response.headers["allow"] == "GET"


def test_body_too_large_is_invalid_request(client: TestClient) -> None:
    response = client.get("/too-big")
    assert response.status_code == 413
    assert response.json() == _envelope("INVALID_REQUEST", "request body too large")


def test_other_4xx_use_invalid_request_and_keep_structured_detail(client: TestClient) -> None:
    response = client.get("/teapot")
    assert response.status_code == 418
    assert response.json() == _envelope("INVALID_REQUEST", "i'm a teapot", {"hint": "coffee"})


def test_5xx_http_exception_text_stays_out_of_the_body(client: TestClient) -> None:
    response = client.get("/bad-gateway")
    assert response.status_code == 502
    assert response.json() == _envelope("INTERNAL_ERROR", "internal error")


def test_503_is_service_unavailable_with_its_message_and_retry_after(client: TestClient) -> None:
    response = client.get("/unavailable")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "10"
    assert response.json() == _envelope("SERVICE_UNAVAILABLE", "database is unreachable")


def test_unexpected_exception_is_500_with_request_id_and_logged_traceback(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="bizlogic.api")
    response = client.get("/boom")
    assert response.status_code == 500
    body = response.json()
    request_id = body["error"]["details"]["request_id"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert body == _envelope("INTERNAL_ERROR", "internal error", {"request_id": request_id})
    assert response.headers["x-request-id"] == request_id
    assert "hunter2" not in response.text and "RuntimeError" not in response.text
    [record] = [r for r in caplog.records if r.name == "bizlogic.api"]
    assert record.levelno == logging.ERROR
    assert record.getMessage() == "unhandled exception in GET /boom"
    assert getattr(record, "request_id", None) == request_id
    assert getattr(record, "event", None) == "unhandled_exception"
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError
    assert "hunter2" in caplog.text  # the full story is in the log, not the response
    assert "Traceback (most recent call last)" in caplog.text


def test_unexpected_exception_reuses_the_request_id_of_the_middleware(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="bizlogic.api")
    response = client.get("/boom", headers={"x-test-request-id": "req-42"})
    assert response.status_code == 500
    assert response.json() == _envelope(
        "INTERNAL_ERROR", "internal error", {"request_id": "req-42"}
    )
    assert response.headers["x-request-id"] == "req-42"
    logged = [getattr(r, "request_id", None) for r in caplog.records if r.name == "bizlogic.api"]
    assert logged == ["req-42"]


def test_api_error_rejects_unknown_codes_and_non_error_statuses() -> None:
    with pytest.raises(ValueError, match="'TEAPOT' is not a valid ErrorCode"):
        ApiError(418, "TEAPOT", "no")
    with pytest.raises(ValueError, match="status must be an HTTP error status, got 200"):
        ApiError(200, ErrorCode.CONFLICT, "no")


def test_error_body_shape() -> None:
    assert error_body("NOT_FOUND", "rule 1 not found") == _envelope("NOT_FOUND", "rule 1 not found")
    assert [c.value for c in ErrorCode] == [
        "INVALID_REQUEST",
        "UNAUTHORIZED",
        "FORBIDDEN",
        "NOT_FOUND",
        "CONFLICT",
        "RATE_LIMITED",
        "INTERNAL_ERROR",
        "SERVICE_UNAVAILABLE",
    ]


def test_a_lost_database_is_503_with_retry_after(client: TestClient) -> None:
    response = client.get("/db-gone")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    error = response.json()["error"]
    assert error["code"] == "SERVICE_UNAVAILABLE"
    assert error["message"] == "the database is unavailable; try again shortly"
    assert "connection refused" not in response.text


def test_a_database_error_that_is_a_bug_is_a_plain_500(client: TestClient) -> None:
    response = client.get("/integrity")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "INTERNAL_ERROR"
    assert "hunter2" not in response.text and "duplicate" not in response.text
