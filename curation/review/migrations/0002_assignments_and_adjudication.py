# Leases per (candidate, expert); the old lease columns' live leases move here.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.models import F


def move_leases(apps, schema_editor):
    Candidate = apps.get_model("campaigns", "Candidate")
    Assignment = apps.get_model("review", "Assignment")
    leased = Candidate.objects.filter(
        status="in_review", leased_to__isnull=False, lease_expires_at__isnull=False
    )
    for c in leased.iterator():
        Assignment.objects.create(candidate_id=c.pk, expert_id=c.leased_to_id, expires_at=c.lease_expires_at)
        Candidate.objects.filter(pk=c.pk).update(holders=1)
    # Rows decided before decision times were enforced get one (their creation time);
    # the invariants of campaigns 0006 hold for every old row.
    decided = ["approved", "rejected"]
    Candidate.objects.filter(status__in=decided, decided_at__isnull=True).update(decided_at=F("created_at"))
    Candidate.objects.exclude(status__in=decided).update(decided_at=None)
    Candidate.objects.filter(status__in=decided).update(decisions=F("needed"))
    Candidate.objects.exclude(status="approved").update(edited_response=None)


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0005_review_policy"),
        ("review", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Adjudication",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "decision",
                    models.CharField(
                        choices=[
                            ("accept", "accept"),
                            ("reject", "reject"),
                            ("edit", "edit"),
                            ("skip", "skip"),
                        ],
                        max_length=8,
                    ),
                ),
                ("edited_response", models.TextField(blank=True, null=True)),
                ("edited_prompt", models.TextField(blank=True, null=True)),
                ("reasons", models.JSONField(blank=True, default=list)),
                ("note", models.TextField(blank=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
        ),
        migrations.CreateModel(
            name="Assignment",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("started_at", models.DateTimeField(auto_now_add=True)),
                ("expires_at", models.DateTimeField(db_index=True)),
            ],
        ),
        migrations.AddField(
            model_name="review",
            name="edited_prompt",
            field=models.TextField(blank=True, null=True),
        ),
        migrations.AddConstraint(
            model_name="review",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("decision", "edit"),
                        models.Q(
                            ("edited_prompt__isnull", True), ("edited_response__isnull", True), _negated=True
                        ),
                    ),
                    models.Q(
                        models.Q(("decision", "edit"), _negated=True),
                        ("edited_prompt__isnull", True),
                        ("edited_response__isnull", True),
                    ),
                    _connector="OR",
                ),
                name="review_edit_has_text",
            ),
        ),
        migrations.AddField(
            model_name="adjudication",
            name="by",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="adjudications",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="adjudication",
            name="candidate",
            field=models.OneToOneField(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="adjudication",
                to="campaigns.candidate",
            ),
        ),
        migrations.AddField(
            model_name="assignment",
            name="candidate",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="assignments",
                to="campaigns.candidate",
            ),
        ),
        migrations.AddField(
            model_name="assignment",
            name="expert",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="assignments",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddConstraint(
            model_name="adjudication",
            constraint=models.CheckConstraint(
                condition=models.Q(("decision__in", ["accept", "reject", "edit"])),
                name="adjudication_decision_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="adjudication",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("decision", "edit"),
                        models.Q(
                            ("edited_prompt__isnull", True), ("edited_response__isnull", True), _negated=True
                        ),
                    ),
                    models.Q(
                        models.Q(("decision", "edit"), _negated=True),
                        ("edited_prompt__isnull", True),
                        ("edited_response__isnull", True),
                    ),
                    _connector="OR",
                ),
                name="adjudication_edit_has_text",
            ),
        ),
        migrations.AddConstraint(
            model_name="assignment",
            constraint=models.UniqueConstraint(
                fields=("candidate", "expert"), name="assignment_one_per_expert"
            ),
        ),
        migrations.RunPython(move_leases, migrations.RunPython.noop),
    ]
