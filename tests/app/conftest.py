"""The in-process tier: Django's code called directly (actions, access rules, parsers, views through the
test client) against a real PostgreSQL started once per run by the db role's code. No nginx, no gunicorn.

Django is configured here, in this process only, from a topology written to a temp dir: no environment
variable is set, so the stacks other tiers start in subprocesses keep their own config.
"""

from __future__ import annotations

import atexit
import importlib
import os
import shutil
from pathlib import Path

import pytest

from strata.deploy import config as cfgmod
from tests.support.postgres import running_postgres, settings_for
from tests.support.stack import IN_CI, make_root

PG = Path("/usr/lib/postgresql/15/bin/postgres")
ROOT = make_root("strata-app-")
atexit.register(shutil.rmtree, ROOT, True)
TOPOLOGY = settings_for(ROOT)


def _configure_django() -> None:
    import django
    from django.conf import settings

    if settings.configured:
        return
    # strata.site.settings reads $STRATA_CONFIG while it is imported; set it for that moment only.
    saved = os.environ.get(cfgmod.ENV_CONFIG)
    os.environ[cfgmod.ENV_CONFIG] = str(TOPOLOGY)
    try:
        module = importlib.import_module("strata.site.settings")
    finally:
        if saved is None:
            del os.environ[cfgmod.ENV_CONFIG]
        else:
            os.environ[cfgmod.ENV_CONFIG] = saved
    values = {k: getattr(module, k) for k in dir(module) if k.isupper()}
    values.update(
        # TLS ends at nginx, which this tier does not run.
        SECURE_SSL_REDIRECT=False,
        # Hashing cost is what makes a password safe, not what these tests check.
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        # Each test runs in a transaction that is rolled back: the NOTIFY that keeps the live cache exact
        # is sent only on commit. Tests that measure the cache turn it on (tests/app/test_query_counts.py).
        STRATA_LIVE_CACHE=False,
    )
    settings.configure(**values)
    django.setup()


_configure_django()


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.app)


@pytest.fixture(scope="session")
def django_db_modify_db_settings():
    """Start the session's PostgreSQL before pytest-django creates the test database in it."""
    if not PG.exists():
        message = f"{PG} is not installed (make unit installs it)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    with running_postgres(TOPOLOGY):
        yield


@pytest.fixture
def people(db):
    """Alice and Carol in the group "research", Bob in no group; each with a password "pw-NAME"."""
    from django.contrib.auth.models import Group, User

    research = Group.objects.create(name="research")
    out = {}
    for name in ("alice", "bob", "carol"):
        out[name] = User.objects.create_user(name, f"{name}@example.org", f"pw-{name}")
    research.user_set.add(out["alice"], out["carol"])
    return out
