from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from curation.accounts.models import ApiToken, User


@admin.register(User)
class AssayUserAdmin(UserAdmin):
    list_display = ("username", "role", "is_active", "last_login")
    list_filter = ("role", "is_active")
    fieldsets = (*UserAdmin.fieldsets, ("Assay", {"fields": ("role",)}))


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "user", "scope", "created_at", "last_used_at")
    list_filter = ("scope",)
    readonly_fields = ("prefix", "key_sha256", "user", "scope", "created_at", "last_used_at")

    def has_add_permission(self, request):
        return False  # tokens are made by create_token, which shows them once
