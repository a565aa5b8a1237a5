from __future__ import annotations

from django.contrib import admin

from curation.generation.models import GenerationBatch


@admin.register(GenerationBatch)
class GenerationBatchAdmin(admin.ModelAdmin):
    list_display = ("campaign", "index", "start", "size", "status", "attempts", "updated_at")
    list_filter = ("status",)
