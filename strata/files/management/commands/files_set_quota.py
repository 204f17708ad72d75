from django.contrib.auth import get_user_model

from strata.files import actions
from strata.files.limits import MiB
from strata.files.management.base import AdminCommand


class Command(AdminCommand):
    help = "Set how many megabytes (MiB) a person may store in files; 0 lets them store nothing more."

    def add_arguments(self, parser):
        parser.add_argument("username", metavar="USERNAME")
        parser.add_argument("mb", metavar="MB", help="the quota in MiB, a whole number")

    def handle(self, *args, username, mb, **options):
        try:
            megabytes = int(mb)
        except ValueError:
            raise self.refuse(f"MB must be a whole number of megabytes, not {mb!r}.") from None
        if megabytes < 0:
            raise self.refuse(f"MB cannot be negative ({megabytes}).")
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise self.refuse(f"There is no person called {username!r}.")
        actions.set_quota(user, megabytes * MiB)
        limit, used = actions.quota_status(user)
        self.stdout.write(f"{username}: quota {megabytes} MiB, {used} of {limit} bytes used")
