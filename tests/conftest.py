"""Shared fixtures: a real Strata stack (PostgreSQL, gunicorn, nginx) in a temp dir on free ports.

The helpers behind them live in tests/support/, where the benchmarks use them too.
"""

from __future__ import annotations

import pytest

from tests.support.stack import Stack, files_role_toml, running_stack


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (`make test`: two workers, --dist loadgroup) a module runs whole on one worker,
    so that its shared stack starts once. The lab tier runs apart, in one process (Makefile)."""
    for item in items:
        item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """When a test that holds a stack fails, add the end of its app servers' logs to the report: the stack's
    temp dir is gone by the time anyone reads a CI log, and a 500's traceback is only there."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    for value in getattr(item, "funcargs", {}).values():
        if isinstance(value, Stack):
            for log in sorted((value.config.log_dir / "app").glob("*.log")):
                tail = log.read_text(errors="replace").splitlines()[-40:]
                report.sections.append((f"app log {log.name} (last 40 lines)", "\n".join(tail)))


@pytest.fixture(scope="session")
def stack():
    """The required roles only: every optional role absent, so their fallbacks are in use."""
    with running_stack("strata-test-") as s:
        yield s


@pytest.fixture(scope="session")
def files_stack():
    """The required roles plus the file server (SeaweedFS)."""
    with running_stack("strata-files-", extra=files_role_toml()) as s:
        yield s
