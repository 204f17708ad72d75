"""Drop a person's cached unread count (strata.site.live, kind "n") when it may have changed."""

from django.db import migrations

from strata.site.live import notify_trigger


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0001_initial"),
        ("accounts", "0003_live_cache_triggers"),
    ]

    operations = [
        migrations.RunSQL(*notify_trigger("strata_live_unread", "messaging_participant", ["'n:' || {row}.user_id"])),
        # Group conversations count for the group's members only: membership changes move the count.
        migrations.RunSQL(*notify_trigger("strata_live_unread_groups", "auth_user_groups", ["'n:' || {row}.user_id"])),
        migrations.RunSQL(
            *notify_trigger(
                "strata_live_unread_conversation",
                "messaging_conversation",
                ["'n:*'"],
                when="OLD.group_id IS DISTINCT FROM NEW.group_id",
            )
        ),
    ]
