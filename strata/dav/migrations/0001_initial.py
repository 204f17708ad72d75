from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies: list = []

    operations = [
        migrations.CreateModel(
            name="Lock",
            fields=[
                ("token", models.CharField(max_length=100, primary_key=True, serialize=False)),
                ("root", models.TextField(db_index=True)),
                ("expire", models.FloatField()),
                ("data", models.JSONField()),
            ],
        ),
        migrations.CreateModel(
            name="DeadProperty",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("path", models.TextField()),
                ("name", models.TextField()),
                ("value", models.TextField()),
            ],
            options={
                "indexes": [models.Index(fields=["path"], name="dav_deadpro_path_57d643_idx")],
                "constraints": [models.UniqueConstraint(fields=("path", "name"), name="dav_deadproperty_unique")],
            },
        ),
    ]
