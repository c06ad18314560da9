"""Skips that nobody sees are tests that never ran: in CI (the CI variable set, as CI services do) every skip is
a failure, because there the data, QGIS and the tools are all there (``make setup``, ../shared/data); locally
skips stay skips and ``-rs`` lists them with their reasons. Hooks for tests/conftest.py and
backend/tests/conftest.py (standard library and pytest only: both tiers' Pythons load it)."""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _fail_when_in_ci(report) -> None:
    if not report.skipped or hasattr(report, "wasxfail") or not in_ci():  # an expected failure is not a skip
        return
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    report.outcome = "failed"
    report.longrepr = f"skipped in CI (CI={os.environ['CI']}), where every skip is a failure: {reason}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    _fail_when_in_ci(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector):
    report = yield
    _fail_when_in_ci(report)  # a whole module skipped (pytest.importorskip, allow_module_level)
    return report
