from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="AttemptCounter",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("login-pair", "failed logins of a username from an address"),
                            ("login-address", "failed logins from an address"),
                            ("reset-address", "password-reset requests from an address"),
                            ("reset-account", "password-reset requests for an account"),
                        ],
                        max_length=16,
                    ),
                ),
                ("subject", models.CharField(blank=True, help_text="username or e-mail address", max_length=254)),
                ("address", models.CharField(blank=True, max_length=64)),
                ("count", models.PositiveIntegerField(default=0)),
                ("first_at", models.DateTimeField()),
                ("last_at", models.DateTimeField()),
            ],
            options={
                "ordering": ["-last_at"],
                "indexes": [
                    models.Index(fields=["address"], name="accounts_at_address_idx"),
                    models.Index(fields=["subject"], name="accounts_at_subject_idx"),
                ],
                "constraints": [
                    models.UniqueConstraint(fields=("kind", "subject", "address"), name="accounts_attempt_unique")
                ],
            },
        ),
    ]
