# Review policy columns and membership; leases move to review.Assignment (review 0002),
# then 0006 drops the old lease columns and adds the invariants.

import django.db.models.deletion
import django.db.models.expressions
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0004_finish_reason_and_revisions"),
        ("generation", "0002_control"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="CampaignMembership",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("added_at", models.DateTimeField(auto_now_add=True)),
            ],
        ),
        migrations.RemoveConstraint(
            model_name="candidate",
            name="candidate_status_valid",
        ),
        migrations.AddField(
            model_name="campaign",
            name="members_only",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="candidate",
            name="decisions",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="candidate",
            name="edited_prompt",
            field=models.TextField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="candidate",
            name="holders",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="candidate",
            name="needed",
            field=models.PositiveSmallIntegerField(default=1),
        ),
        migrations.AlterField(
            model_name="candidate",
            name="status",
            field=models.CharField(
                choices=[
                    ("generated", "generated"),
                    ("scored", "scored"),
                    ("auto_rejected", "auto-rejected"),
                    ("in_review", "in review"),
                    ("in_adjudication", "in adjudication"),
                    ("approved", "approved"),
                    ("rejected", "rejected"),
                ],
                default="generated",
                max_length=16,
            ),
        ),
        migrations.AddConstraint(
            model_name="candidate",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "status__in",
                        [
                            "generated",
                            "scored",
                            "auto_rejected",
                            "in_review",
                            "in_adjudication",
                            "approved",
                            "rejected",
                        ],
                    )
                ),
                name="candidate_status_valid",
            ),
        ),
        migrations.AddField(
            model_name="campaignmembership",
            name="campaign",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="memberships",
                to="campaigns.campaign",
            ),
        ),
        migrations.AddField(
            model_name="campaignmembership",
            name="user",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="memberships",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddConstraint(
            model_name="campaignmembership",
            constraint=models.UniqueConstraint(fields=("campaign", "user"), name="membership_unique"),
        ),
    ]
