"""Drop cached quota figures (kind "q") and navigation spaces (kind "sp") when they may have changed
(strata.site.live)."""

from django.db import migrations

from strata.site.live import notify_trigger

QUOTA = ["'q:' || {row}.user_id"]


class Migration(migrations.Migration):
    dependencies = [
        ("files", "0004_upload_part"),
        ("accounts", "0003_live_cache_triggers"),
    ]

    operations = [
        migrations.RunSQL(*notify_trigger("strata_live_quota", "files_quota", QUOTA)),
        migrations.RunSQL(*notify_trigger("strata_live_usage", "files_usage", QUOTA)),
        migrations.RunSQL(*notify_trigger("strata_live_upload", "files_upload", QUOTA)),
        # A personal space is its owner's; a group space is every member's (rare: drop them all).
        migrations.RunSQL(
            *notify_trigger(
                "strata_live_space",
                "files_space",
                ["CASE WHEN {row}.owner_id IS NULL THEN 'sp:*' ELSE 'sp:' || {row}.owner_id END"],
            )
        ),
        migrations.RunSQL(*notify_trigger("strata_live_space_groups", "auth_user_groups", ["'sp:' || {row}.user_id"])),
        migrations.RunSQL(
            *notify_trigger("strata_live_space_group_names", "auth_group", ["'sp:*'"], when="OLD.name IS DISTINCT FROM NEW.name")
        ),
    ]
