from django.contrib import admin

from curation.exports.models import Export


@admin.register(Export)
class ExportAdmin(admin.ModelAdmin):
    list_display = ("id", "format", "out_dir", "created_at")
    readonly_fields = ("out_dir", "format", "params", "manifest", "files", "created_by", "created_at")

    def has_change_permission(self, request, obj=None):
        return False  # immutable once made
