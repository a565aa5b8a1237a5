from __future__ import annotations

import yaml
from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import format_html

from curation.campaigns.config import load_yaml
from curation.campaigns.membership import campaign_members_set
from curation.campaigns.models import Campaign, CampaignMembership, Candidate, CandidateStatus
from curation.campaigns.services import (
    campaign_cancel,
    campaign_config_check,
    campaign_create_or_update,
    campaign_pause,
    campaign_resume,
    campaign_start,
)
from curation.core.errors import AssayError
from curation.review.services import candidate_adjudicate
from curation.scoring.models import CriticScore
from curation.scoring.services import candidate_reinstate


class CampaignForm(forms.ModelForm):
    """Admins edit the same YAML that create_campaign reads, validated by the same config."""

    config_yaml = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 30, "cols": 100}), label="Config (YAML)"
    )

    class Meta:
        model = Campaign
        fields = ["members_only"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["config_yaml"] = yaml.safe_dump(
                self.instance.config, sort_keys=False, allow_unicode=True
            )
        else:
            self.initial["config_yaml"] = "slug: my-campaign\nsource: my-source\ncount: 100\n"

    def clean_config_yaml(self) -> str:
        try:
            config = load_yaml(self.cleaned_data["config_yaml"], origin="config")
            # The database half of the checks, through the service that saves it, so that
            # save_model has nothing left to refuse (the admin cannot undo its "added" message).
            campaign_config_check(config=config)
        except AssayError as e:
            raise forms.ValidationError(str(e)) from None
        if self.instance.pk and config.slug != self.instance.slug:
            raise forms.ValidationError("the slug of an existing campaign cannot change")
        self.parsed = config
        return self.cleaned_data["config_yaml"]


class MembershipInline(admin.TabularInline):
    """Who may see and review the campaign while `members_only` is on (experts only:
    admins and viewers see every campaign)."""

    model = CampaignMembership
    extra = 1
    readonly_fields = ("added_at",)
    verbose_name = "member"
    verbose_name_plural = "members (used when 'members only' is on)"


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    form = CampaignForm
    list_display = ("slug", "name", "status", "members_only", "count", "source", "updated_at")
    list_filter = ("status", "members_only")
    actions = ["run", "pause", "resume", "cancel"]
    readonly_fields = ("status", "error")
    inlines = [MembershipInline]

    def get_inline_instances(self, request, obj=None):
        # A post without the members table (a script posting the YAML alone) leaves the
        # membership as it is, instead of failing on the table's missing management form.
        if request.method == "POST" and "memberships-TOTAL_FORMS" not in request.POST:
            return []
        return super().get_inline_instances(request, obj)

    def save_model(self, request, obj, form, change):
        # The form's clean ran the same checks; only a race (the source deleted meanwhile) fails
        # here, and an error page beats a false "added successfully".
        campaign, _ = campaign_create_or_update(config=form.parsed)
        campaign_members_set(campaign=campaign, members_only=form.cleaned_data["members_only"])
        obj.pk = campaign.pk
        obj.refresh_from_db()

    def _control(self, request, queryset, service, did: str, already: str) -> None:
        """The same services as the commands and the campaign page; each campaign says what
        happened to it, and one refused does not stop the others."""
        for campaign in queryset:
            try:
                changed = service(campaign=campaign)
            except AssayError as e:
                self.message_user(request, f"{campaign.slug}: {e}", messages.ERROR)
                continue
            self.message_user(request, f"{campaign.slug}: {did if changed else already}")

    @admin.action(description="Run (start or restart generation and scoring)")
    def run(self, request, queryset):
        self._control(request, queryset, campaign_start, "generation started", "generation started")

    @admin.action(description="Pause (no new generation batch starts)")
    def pause(self, request, queryset):
        self._control(request, queryset, campaign_pause, "paused", "was already paused")

    @admin.action(description="Resume paused campaigns")
    def resume(self, request, queryset):
        self._control(request, queryset, campaign_resume, "resumed", "was already running")

    @admin.action(description="Cancel for good (what was made is still scored)")
    def cancel(self, request, queryset):
        self._control(request, queryset, campaign_cancel, "cancelled", "was already cancelled")


class ScoreInline(admin.TabularInline):
    model = CriticScore
    extra = 0
    readonly_fields = ("critic", "version", "score", "passed", "label", "rationale")
    can_delete = False


@admin.register(Candidate)
class CandidateAdmin(admin.ModelAdmin):
    list_display = ("id", "campaign", "status_link", "prompt", "priority")
    list_filter = ("status", "campaign")
    search_fields = ("prompt", "response")
    list_select_related = ("campaign",)
    inlines = [ScoreInline]
    readonly_fields = [f.name for f in Candidate._meta.fields]
    actions = ["reinstate", "adjudicate_accept"]

    @admin.display(description="status", ordering="status")
    def status_link(self, obj: Candidate):
        """In adjudication: a link to the page that shows the experts' decisions side by side."""
        if obj.status != CandidateStatus.IN_ADJUDICATION:
            return obj.get_status_display()
        url = reverse("adjudicate", args=[obj.campaign.slug, obj.pk])
        return format_html('<a href="{}">{} (adjudicate)</a>', url, obj.get_status_display())

    @admin.action(description="Adjudicate: accept the original (candidates in adjudication)")
    def adjudicate_accept(self, request, queryset):
        """The admin's decision on disagreements, through the same service as the page and
        the API; rows not in adjudication are named and left alone."""
        done = 0
        for candidate in queryset.order_by("pk"):
            try:
                candidate_adjudicate(user=request.user, candidate_id=candidate.pk, decision="accept")
                done += 1
            except AssayError as e:
                self.message_user(request, f"#{candidate.pk}: {e}", messages.ERROR)
        if done:
            self.message_user(request, f"{done} accepted by adjudication.", messages.SUCCESS)

    @admin.action(description="Send auto-rejected candidates back to review (asks why)")
    def reinstate(self, request, queryset):
        """Two steps: the first shows a form for the reason; the second reinstates."""
        if "apply" in request.POST:
            done = 0
            for candidate in queryset:
                try:
                    candidate_reinstate(
                        user=request.user, candidate_id=candidate.pk, reason=request.POST.get("reason", "")
                    )
                    done += 1
                except AssayError as e:
                    self.message_user(request, f"#{candidate.pk}: {e}", messages.ERROR)
            if done:
                self.message_user(request, f"{done} sent back to review.", messages.SUCCESS)
            return None
        return render(
            request,
            "admin/campaigns/candidate/reinstate.html",
            {
                **self.admin_site.each_context(request),
                "title": "Send back to review",
                "candidates": queryset,
                "opts": self.model._meta,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            },
        )
