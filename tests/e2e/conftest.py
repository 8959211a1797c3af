"""End-to-end tests: each test's outcome is kept on its item, so a fixture's teardown
can tell a failed test (the browser tests save a screenshot then)."""

from __future__ import annotations

import pytest


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
