"""Notify every app process when a session or a user row changes (strata.site.live drops its copy)."""

from django.db import migrations

# (table, trigger name, payload of a changed row)
TABLES = [
    ("django_session", "strata_live_session", "'s:' || OLD.session_key"),
    ("auth_user", "strata_live_user", "'u:' || OLD.id"),
]

FORWARD = """
CREATE OR REPLACE FUNCTION strata_live_all() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('strata_live', '*');
    RETURN NULL;
END $$;
"""
BACKWARD = "DROP FUNCTION IF EXISTS strata_live_all();"


def row_trigger(table: str, name: str, payload: str) -> tuple[str, str]:
    forward = f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('strata_live', {payload});
    RETURN NULL;
END $$;
CREATE TRIGGER {name} AFTER UPDATE OR DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION {name}();
CREATE TRIGGER {name}_truncate AFTER TRUNCATE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION strata_live_all();
"""
    backward = f"""
DROP TRIGGER IF EXISTS {name} ON {table};
DROP TRIGGER IF EXISTS {name}_truncate ON {table};
DROP FUNCTION IF EXISTS {name}();
"""
    return forward, backward


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_attemptcounter"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("sessions", "0001_initial"),
    ]

    operations = [
        migrations.RunSQL(FORWARD, BACKWARD),
        *(migrations.RunSQL(*row_trigger(*table)) for table in TABLES),
    ]
