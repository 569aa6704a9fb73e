"""Test tiers and required optional parts.

Tests that need an optional part carry its marker (``vllm``, ``deepspeed``, ``multiprocess``, ``slurm``)
and skip where the part is missing, so ``pytest -q`` passes on a plain CPU install. ``RLVR_REQUIRE``
(comma-separated markers, or ``all``) turns such a skip into a failure: CI sets it for the tiers it
installs (.ci/run), so a missing package or a cluster that did not start can never pass as a skip.
"""

from __future__ import annotations

import os

import pytest

TIERS = ("vllm", "deepspeed", "multiprocess", "slurm")


def required() -> set[str]:
    names = {n.strip() for n in os.environ.get("RLVR_REQUIRE", "").split(",") if n.strip()}
    return set(TIERS) if "all" in names else names


def pytest_configure(config):
    for name in TIERS:
        config.addinivalue_line("markers", f"{name}: needs the optional {name} part (see tests/conftest.py)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    missing = required() & {m.name for m in item.iter_markers()}
    if missing:
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.longrepr = f"skipped, but RLVR_REQUIRE asks for {sorted(missing)}: {reason}"
