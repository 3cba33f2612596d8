from django.contrib import admin, messages
from django.utils import timezone

from syncservice.accounts.models import ApiKey, Project
from syncservice.accounts.services import create_api_key


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at", "updated_at"]
    search_fields = ["name", "description", "id"]
    readonly_fields = ["id", "created_at", "updated_at"]
    filter_horizontal = ["members"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "project", "scope", "is_active", "last_used_at",
                    "expires_at", "revoked_at", "created_at"]
    list_filter = ["scope", "project"]
    search_fields = ["name", "prefix", "project__name"]
    readonly_fields = ["id", "prefix", "last_used_at", "revoked_at", "created_by",
                       "created_at", "updated_at"]
    fields = ["project", "name", "scope", "expires_at", *readonly_fields]
    actions = ["revoke"]

    @admin.display(boolean=True)
    def is_active(self, obj: ApiKey) -> bool:
        return obj.is_active

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:  # the project and scope of an existing key never change
            return [*self.readonly_fields, "project", "scope"]
        return self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        key, raw_key = create_api_key(obj.project, name=obj.name, scope=obj.scope,
                                      created_by=request.user, expires_at=obj.expires_at)
        obj.pk = key.pk
        obj.refresh_from_db()
        messages.warning(request, f"The new API key is {raw_key} — copy it now: it is stored "
                                  "hashed and will not be shown again.")

    @admin.action(description="Revoke selected API keys")
    def revoke(self, request, queryset):
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {count} API key(s).", messages.SUCCESS)
