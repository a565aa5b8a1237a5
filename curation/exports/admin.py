from __future__ import annotations

import json

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from curation.exports.models import Export, ExportJob


def _pretty(value) -> str:
    return format_html(
        '<pre style="white-space: pre-wrap; max-height: 40rem; overflow: auto">{}</pre>',
        json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True),
    )


@admin.register(Export)
class ExportAdmin(admin.ModelAdmin):
    """Exports are made by a job (the export page, the API) or `export_dataset`, never here;
    each links to its page, where its files are downloaded."""

    list_display = ("id", "page", "format", "out_dir", "created_by", "created_at")
    list_select_related = ("created_by",)
    fields = (
        "page",
        "out_dir",
        "format",
        "params_pretty",
        "files_pretty",
        "manifest_pretty",
        "created_by",
        "created_at",
    )
    readonly_fields = fields

    @admin.display(description="page")
    def page(self, obj: Export) -> str:
        return format_html(
            '<a href="{}">export {} (files, datasheet)</a>', reverse("export_detail", args=[obj.pk]), obj.pk
        )

    @admin.display(description="params")
    def params_pretty(self, obj: Export) -> str:
        return _pretty(obj.params)

    @admin.display(description="files")
    def files_pretty(self, obj: Export) -> str:
        return _pretty(obj.files)

    @admin.display(description="manifest")
    def manifest_pretty(self, obj: Export) -> str:
        return _pretty(obj.manifest)

    def has_add_permission(self, request):
        return False  # the export page (or export_dataset) makes exports

    def has_change_permission(self, request, obj=None):
        return False  # immutable once made


@admin.register(ExportJob)
class ExportJobAdmin(admin.ModelAdmin):
    """Read-only: jobs are made by the export page and the API, and moved by workers and the sweeper."""

    list_display = (
        "id",
        "page",
        "status",
        "out_dir",
        "rows_done",
        "rows_total",
        "attempts",
        "created_by",
        "created_at",
    )
    list_filter = ("status",)
    list_select_related = ("created_by",)
    fields = (
        "page",
        "status",
        "error",
        "out_dir",
        "params_pretty",
        "rows_done",
        "rows_total",
        "export",
        "attempts",
        "claimed_by",
        "lease_expires_at",
        "not_before",
        "created_by",
        "created_at",
        "started_at",
        "finished_at",
        "updated_at",
    )
    readonly_fields = fields

    @admin.display(description="page")
    def page(self, obj: ExportJob) -> str:
        return format_html('<a href="{}">job {}</a>', reverse("export_job", args=[obj.pk]), obj.pk)

    @admin.display(description="params")
    def params_pretty(self, obj: ExportJob) -> str:
        return _pretty(obj.params)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # a live job's row is its worker's lease
