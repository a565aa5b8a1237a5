# CriticScore moved here from the campaigns app: state only, the table keeps its name.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("campaigns", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="CriticScore",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("critic", models.CharField(max_length=64)),
                        ("version", models.CharField(max_length=32)),
                        ("score", models.FloatField()),
                        ("passed", models.BooleanField()),
                        ("label", models.CharField(blank=True, max_length=64)),
                        ("rationale", models.TextField(blank=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "candidate",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="scores",
                                to="campaigns.candidate",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "campaigns_criticscore",
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("candidate", "critic", "version"), name="score_unique_critic"
                            ),
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
