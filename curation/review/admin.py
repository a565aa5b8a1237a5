from django.contrib import admin

from curation.review.models import Adjudication, Assignment, Review


class ReadOnly(admin.ModelAdmin):
    """Records written by the review service only: shown, never changed here."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Review)
class ReviewAdmin(ReadOnly):
    """Expert decisions: deleting or changing one here would leave its candidate's counts
    and outcome behind it. Undo and adjudication are the ways to change a decision."""

    list_display = ("candidate", "reviewer", "decision", "reasons", "note", "created_at")
    list_filter = ("decision",)
    list_select_related = ("candidate", "reviewer")


@admin.register(Adjudication)
class AdjudicationAdmin(ReadOnly):
    list_display = ("candidate", "by", "decision", "reasons", "note", "created_at")
    list_filter = ("decision",)
    list_select_related = ("candidate", "by")


@admin.register(Assignment)
class AssignmentAdmin(ReadOnly):
    """The live leases: who holds which candidate until when."""

    list_display = ("candidate", "expert", "started_at", "expires_at")
    list_select_related = ("candidate", "expert")
