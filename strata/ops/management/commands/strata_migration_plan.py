"""Print the pending migrations as JSON, each operation with why a rolling upgrade refuses it ("" if not).

`strata upgrade` runs it with the new release's code (site.code_dir) before it migrates anything.
"""

import json

from django.core.management.base import BaseCommand

from strata.ops.migration_plan import pending


class Command(BaseCommand):
    help = "List the pending migrations and whether the running release tolerates each (expand/contract)."
    requires_system_checks: list[str] = []

    def handle(self, *args, **options):
        self.stdout.write(json.dumps(pending()))
