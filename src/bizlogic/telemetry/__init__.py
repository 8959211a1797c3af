"""Telemetry: Prometheus metrics (DESIGN §7) and structured JSON logs (DESIGN §8).

Submodules are imported explicitly (``bizlogic.telemetry.metrics``,
``.http``, ``.logging``, ``.redact``) so that importing one does not pull in
FastAPI or structlog for callers that need only the other.
"""
