"""The pending migrations and whether the release still running tolerates each (expand/contract).

A rolling upgrade migrates the database while app servers of the old release keep serving on it, so it
may only run operations the old code does not notice (expand): new tables (CreateModel, a many-to-many
field), new columns it need not fill (AddField null=True or with a db_default), indexes built without
blocking writes (AddIndexConcurrently, or any index/constraint on a table created in the same upgrade),
constraints added NOT VALID, data migrations (RunPython), and operations that change no SQL at all.
Everything else (RemoveField, DeleteModel, Rename*, AlterField that changes the column, RunSQL...) is a
contract step: it belongs to a later release, run with `strata upgrade --contract` once no old code runs.
"""

from __future__ import annotations

from django.contrib.postgres import operations as pg_ops
from django.db import connection
from django.db.migrations import operations as ops
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState
from django.db.models import NOT_PROVIDED

CONTRACT = "a contract step (the running release still uses what it changes): run it with --contract"
# Always tolerated: new tables, data only, extensions, NOT VALID constraints and their later validation.
EXPAND = (
    ops.CreateModel,
    ops.RunPython,
    pg_ops.AddIndexConcurrently,
    pg_ops.AddConstraintNotValid,
    pg_ops.ValidateConstraint,
    pg_ops.CreateExtension,
)


def _model_key(app_label: str, op: Operation) -> tuple[str, str]:
    return app_label, str(getattr(op, "model_name", getattr(op, "name", ""))).lower()


def _makes_sql(app_label: str, op: Operation, state: ProjectState) -> bool:
    """Return whether OP changes the schema (collects its SQL without running it; True when unsure)."""
    new = state.clone()
    op.state_forwards(app_label, new)
    try:
        with connection.schema_editor(collect_sql=True, atomic=False) as editor:
            op.database_forwards(app_label, editor, state, new)
    except Exception:  # noqa: BLE001 - whatever stops the dry run, the operation is not known to be harmless
        return True
    return bool(editor.collected_sql)


def refusal(app_label: str, op: Operation, state: ProjectState, created: set[tuple[str, str]]) -> str:
    """Return why the old release would not tolerate OP ("" when it would); CREATED: the tables made by
    the operations before it in this upgrade (nothing old reads or writes them)."""
    if isinstance(op, EXPAND):
        return ""
    if isinstance(op, ops.AddField):
        field = op.field
        if field.many_to_many or field.null or field.db_default is not NOT_PROVIDED:
            return ""
        if _model_key(app_label, op) in created:
            return ""
        return (
            "adds a NOT NULL column without a database default: the old release's INSERTs would fail "
            "(make it null=True or give it a db_default)"
        )
    if isinstance(op, ops.AddIndex | ops.AddConstraint) and _model_key(app_label, op) in created:
        return ""
    if isinstance(op, ops.AddIndex):
        return "locks the table's writes while it builds: use AddIndexConcurrently (atomic = False)"
    if isinstance(op, ops.AddConstraint):
        return "may refuse the old release's writes: add it with AddConstraintNotValid, then validate"
    if isinstance(op, ops.RunSQL):
        return "raw SQL cannot be checked: " + CONTRACT
    if not _makes_sql(app_label, op, state):
        return ""  # model options, managers, choices, help texts: the schema stays as it is
    return CONTRACT


def pending() -> list[dict]:
    """Return each migration `migrate` would apply, in order, with each operation and why it is refused
    ("" when a rolling upgrade may run it)."""
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    created: set[tuple[str, str]] = set()
    out = []
    for migration, backwards in plan:
        label = f"{migration.app_label}.{migration.name}"
        state = executor.loader.project_state((migration.app_label, migration.name), at_end=False)
        found = []
        for op in migration.operations:
            why = (
                "unapplies a migration: " + CONTRACT
                if backwards
                else refusal(migration.app_label, op, state, created)
            )
            found.append({"operation": f"{type(op).__name__} ({op.describe()})", "refused": why})
            if isinstance(op, ops.CreateModel):
                created.add(_model_key(migration.app_label, op))
            new = state.clone()
            op.state_forwards(migration.app_label, new)
            state = new
        out.append({"migration": label, "operations": found})
    return out
