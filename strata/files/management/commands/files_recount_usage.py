from strata.files import actions
from strata.files.management.base import AdminCommand


class Command(AdminCommand):
    help = "Recompute every person's stored bytes from the file rows (repairs the quota counters)."

    def handle(self, *args, **options):
        people = actions.recount_usage()
        self.stdout.write(f"usage recounted for {people} person(s)")
