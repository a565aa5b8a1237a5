# GenerationBatch moved to the generation app and CriticScore to the scoring app: state
# only, no table changes.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0001_initial"),
        ("generation", "0001_initial"),
        ("scoring", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="candidate",
                    name="batch",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        to="generation.generationbatch",
                    ),
                ),
                migrations.DeleteModel(name="CriticScore"),
                migrations.DeleteModel(name="GenerationBatch"),
            ],
            database_operations=[],
        ),
    ]
