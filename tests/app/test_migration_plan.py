"""The expand/contract rule of `strata upgrade` (strata.ops.migration_plan): which operations a rolling
upgrade may run while the old release serves on the same database, judged on the site's real models."""

from __future__ import annotations

import pytest
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import connection, migrations, models
from django.db.migrations.executor import MigrationExecutor

from strata.ops.migration_plan import pending, refusal

pytestmark = pytest.mark.django_db


@pytest.fixture
def state():
    """The project state every migration of the site leads to (the schema the test database has)."""
    executor = MigrationExecutor(connection)
    return executor.loader.project_state()


NULLABLE = models.CharField(max_length=40, null=True)
EXPAND = [
    migrations.AddField("profile", "nickname", NULLABLE),
    migrations.AddField("profile", "score", models.IntegerField(db_default=0)),
    migrations.CreateModel("Badge", [("id", models.BigAutoField(primary_key=True))]),
    AddIndexConcurrently("profile", models.Index(fields=["title"], name="profile_title_idx")),
    migrations.AlterModelOptions("profile", {"verbose_name": "person's profile"}),
    migrations.RunPython(migrations.RunPython.noop),
]
CONTRACT = [
    (migrations.RemoveField("profile", "fax"), "a contract step"),
    (migrations.DeleteModel("profile"), "a contract step"),
    (migrations.RenameField("profile", "fax", "telefax"), "a contract step"),
    (migrations.AlterField("profile", "fax", models.CharField(max_length=10, blank=True)), "a contract step"),
    (migrations.AddField("profile", "level", models.IntegerField(default=1)), "NOT NULL column"),
    (migrations.AddIndex("profile", models.Index(fields=["title"], name="profile_t_idx")), "AddIndexConc"),
    (migrations.RunSQL("DROP TABLE people_profile"), "raw SQL cannot be checked"),
]


@pytest.mark.parametrize("op", EXPAND, ids=lambda op: type(op).__name__)
def test_expand_operations_are_tolerated(state, op):
    assert refusal("people", op, state, set()) == ""


@pytest.mark.parametrize(
    ("op", "why"), CONTRACT, ids=lambda x: type(x).__name__ if not isinstance(x, str) else ""
)
def test_contract_operations_are_refused_with_a_reason(state, op, why):
    assert why in refusal("people", op, state, set())


def test_an_index_or_not_null_column_on_a_table_made_in_the_same_upgrade_is_tolerated(state):
    created = {("people", "profile")}
    assert refusal("people", CONTRACT[5][0], state, created) == ""
    assert refusal("people", CONTRACT[4][0], state, created) == ""


def test_nothing_is_pending_on_a_migrated_database():
    assert pending() == []
