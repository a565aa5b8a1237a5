from django.contrib import admin

from curation.review.models import Review


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ("candidate", "reviewer", "decision", "created_at")
    list_filter = ("decision",)
    list_select_related = ("candidate", "reviewer")
