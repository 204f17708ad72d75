from django.core.management.base import BaseCommand, CommandError

from strata.files import backup


class Command(BaseCommand):
    help = "Store a database dump, the file objects and a manifest in the backup bucket."

    def add_arguments(self, parser):
        parser.add_argument("--list", action="store_true", help="list the backups instead")

    def handle(self, *args, list=False, **options):
        try:
            if list:
                for backup_id in backup.list_backups():
                    self.stdout.write(backup_id)
                return
            result = backup.create()
        except backup.BackupError as exc:
            raise CommandError(str(exc), returncode=2) from None
        self.stdout.write(
            f"backup {result.backup_id}: {result.objects} file(s), {result.copied} copied, "
            f"{sum(result.rows.values())} rows"
        )
        for m in result.missing:
            self.stdout.write(
                f"missing: file {m['id']} {m['name']!r} of {m['owner']} ({m['size']} bytes, "
                f"object {m['key']}) is not on the file server"
            )
        if result.missing:
            # Exit 1: the backup is finished and restorable, but it lacks these objects.
            raise CommandError(
                f"backup {result.backup_id} is incomplete: {len(result.missing)} file object(s) missing "
                "(listed above; `strata files reconcile` reports them too)",
                returncode=1,
            )
