from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction


class Command(BaseCommand):
    help = "Create the first admin account from strata.toml and the secrets file, if it is missing."

    @transaction.atomic
    def handle(self, *args, **options):
        User = get_user_model()
        username = settings.SITE["admin_username"]
        if User.objects.filter(username=username).exists():
            self.stdout.write(f"exists {username}")
            return
        # One machine holds the password; a host deployed from a control machine holds only its hash (the
        # same string the database keeps), the password staying on the control.
        password = settings.SECRETS.get("admin_password")
        user = User.objects.create_superuser(username, settings.SITE["admin_email"], password)
        if password is None:
            user.password = settings.SECRETS["admin_password_hash"]
            user.save(update_fields=["password"])
        self.stdout.write(f"created {username}")
