# The review invariants (rows were made to fit them in review 0002) and the old lease columns go.
import django.db.models.expressions
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0005_review_policy"),
        ("review", "0002_assignments_and_adjudication"),
    ]

    operations = [
        migrations.RemoveField(
            model_name="candidate",
            name="lease_expires_at",
        ),
        migrations.RemoveField(
            model_name="candidate",
            name="leased_to",
        ),
        migrations.AddConstraint(
            model_name="candidate",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("needed__gte", 1),
                    (
                        "decisions__lte",
                        django.db.models.expressions.CombinedExpression(
                            models.F("needed"), "-", models.F("holders")
                        ),
                    ),
                ),
                name="candidate_review_seats",
            ),
        ),
        migrations.AddConstraint(
            model_name="candidate",
            constraint=models.CheckConstraint(
                condition=models.Q(("holders", 0), ("status", "in_review"), _connector="OR"),
                name="candidate_leased_in_review",
            ),
        ),
        migrations.AddConstraint(
            model_name="candidate",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("decided_at__isnull", False), ("status__in", ["approved", "rejected"])),
                    models.Q(
                        models.Q(("status__in", ["approved", "rejected"]), _negated=True),
                        ("decided_at__isnull", True),
                    ),
                    _connector="OR",
                ),
                name="candidate_decided_when_decided",
            ),
        ),
        migrations.AddConstraint(
            model_name="candidate",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("status", "approved"),
                    models.Q(("edited_prompt__isnull", True), ("edited_response__isnull", True)),
                    _connector="OR",
                ),
                name="candidate_edited_only_approved",
            ),
        ),
        migrations.AddConstraint(
            model_name="candidate",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("status", "in_adjudication"), _negated=True),
                    ("decisions", models.F("needed")),
                    _connector="OR",
                ),
                name="candidate_adjudicated_when_decided",
            ),
        ),
    ]
