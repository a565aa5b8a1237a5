from django.contrib import admin

from curation.sources.models import Example, Source


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ("name", "split", "license", "created_at")
    list_filter = ("split",)


@admin.register(Example)
class ExampleAdmin(admin.ModelAdmin):
    list_display = ("id", "source", "prompt", "created_at")
    list_filter = ("source",)
    search_fields = ("prompt", "response", "external_id")
    list_select_related = ("source",)
    readonly_fields = ("content_sha256", "text_key", "row_number", "created_at")
