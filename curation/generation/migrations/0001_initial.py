# GenerationBatch moved here from the campaigns app: state only, the table keeps its name.

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
                    name="GenerationBatch",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("index", models.PositiveIntegerField()),
                        ("start", models.PositiveIntegerField()),
                        ("size", models.PositiveIntegerField()),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("pending", "pending"),
                                    ("running", "running"),
                                    ("done", "done"),
                                    ("failed", "failed"),
                                ],
                                default="pending",
                                max_length=16,
                            ),
                        ),
                        ("attempts", models.PositiveIntegerField(default=0)),
                        ("error", models.TextField(blank=True)),
                        ("prompt_template", models.TextField(blank=True)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        (
                            "campaign",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="batches",
                                to="campaigns.campaign",
                            ),
                        ),
                    ],
                    options={
                        "ordering": ["campaign", "index"],
                        "db_table": "campaigns_generationbatch",
                        "constraints": [
                            models.UniqueConstraint(fields=("campaign", "index"), name="batch_unique_index"),
                            models.CheckConstraint(
                                condition=models.Q(("status__in", ["pending", "running", "done", "failed"])),
                                name="batch_status_valid",
                            ),
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
