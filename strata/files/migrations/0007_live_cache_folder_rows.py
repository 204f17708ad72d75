"""Drop a folder's cached rows (kind "fr", keyed by the folder's id, or "s<space id>" for a space's root)
when a file or folder directly inside it is added, changed, moved in or out, or deleted (strata.site.live)."""

from django.db import migrations

from strata.site.live import notify_trigger

PLACE = {
    "files_file": "'fr:' || coalesce({row}.folder_id::text, 's' || {row}.space_id)",
    "files_folder": "'fr:' || coalesce({row}.parent_id::text, 's' || {row}.space_id)",
}


class Migration(migrations.Migration):
    dependencies = [("files", "0006_deleted_object")]

    operations = [
        migrations.RunSQL(*notify_trigger("strata_live_folder_files", "files_file", [PLACE["files_file"]])),
        migrations.RunSQL(*notify_trigger("strata_live_folder_folders", "files_folder", [PLACE["files_folder"]])),
    ]
