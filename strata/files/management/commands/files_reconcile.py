from django.core.management.base import BaseCommand

from strata.files import reconcile


class Command(BaseCommand):
    help = "Report (and with --delete remove) objects without a row, and rows whose object is missing."

    def add_arguments(self, parser):
        parser.add_argument(
            "--delete", action="store_true", help="remove orphan objects past the grace period"
        )
        parser.add_argument(
            "--grace-hours",
            type=float,
            default=None,
            help="leave objects younger than this alone (default: roles.files.reconcile_grace_hours)",
        )

    def handle(self, *args, delete=False, grace_hours=None, **options):
        report = reconcile.run(delete=delete, grace_hours=grace_hours)
        self.stdout.write(f"objects: {report.objects}, rows: {report.rows}")
        for key in report.orphans:
            self.stdout.write(f"orphan object {key}" + (" (removed)" if delete else ""))
        if report.young_orphans:
            self.stdout.write(
                f"{report.young_orphans} recent object(s) without a row left alone (grace period)"
            )
        if report.stale_uploads:
            state = "cancelled" if delete else "found"
            self.stdout.write(f"{report.stale_uploads} abandoned upload(s) {state}")
        if report.missing:
            self.stdout.write(f"missing rows: {', '.join(map(str, report.missing))}")
        if not report.orphans and not report.missing:
            self.stdout.write("consistent")
