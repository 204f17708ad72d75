"""Drop every cached folder (kind "fo": a folder with its space and the folders above it, for the folder
pages' permission check) when any folder or space changes (strata.site.live). Coarse on purpose: a
rename, move or trash of a folder changes what every folder below it shows and whether it may be opened,
and folders change far less often than their pages are read."""

from django.db import migrations

from strata.site.live import notify_trigger


class Migration(migrations.Migration):
    dependencies = [("files", "0007_live_cache_folder_rows")]

    operations = [
        migrations.RunSQL(*notify_trigger("strata_live_folder_tree", "files_folder", ["'fo:*'"])),
        migrations.RunSQL(*notify_trigger("strata_live_folder_spaces", "files_space", ["'fo:*'"])),
    ]
