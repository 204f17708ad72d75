from django.core.management.base import BaseCommand, CommandError

from strata.files import backup


class Command(BaseCommand):
    help = "Restore a backup (database and file objects) into an empty stack."

    def add_arguments(self, parser):
        parser.add_argument("backup_id")
        parser.add_argument("--force", action="store_true", help="replace a stack that is not empty")

    def handle(self, *args, backup_id, force=False, **options):
        try:
            result = backup.restore(backup_id, force=force)
        except backup.BackupError as exc:
            raise CommandError(str(exc), returncode=2) from None
        self.stdout.write(
            f"restored {result.backup_id}: {result.objects} file(s) "
            f"({result.copied} copied back), {sum(result.rows.values())} rows"
        )
        for m in result.missing:
            self.stdout.write(
                f"not in the backup: file {m['id']} {m['name']!r} of {m['owner']} "
                "(its object was already missing when the backup was made)"
            )
