"""Admin site branding, the platform audit trail and API tokens."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from rest_framework.authtoken.admin import TokenAdmin as DRFTokenAdmin
from rest_framework.authtoken.models import TokenProxy

from apps.core.models import PlatformEvent
from apps.core.tokens import can_manage_token, do_issue_token, do_revoke_token, token_expires_at

User = get_user_model()

admin.site.site_header = "xflow operations"
admin.site.site_title = "xflow"
admin.site.index_title = "Workflows, tasks, forms and files"


@admin.register(PlatformEvent)
class PlatformEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "event_type", "subject", "actor"]
    list_filter = ["event_type"]
    search_fields = ["subject", "event_type"]
    readonly_fields = ["created_at", "event_type", "subject", "actor", "details"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# API tokens: the admin DRF ships lists every user's key to anyone allowed to view tokens,
# and an operator able to make a token for a superuser would become one. Here a non-superuser
# sees and manages only their own token, and every change goes through the audited services.
admin.site.unregister(TokenProxy)


@admin.register(TokenProxy)
class TokenAdmin(DRFTokenAdmin):
    list_display = ("key", "user", "created", "expires")

    def get_queryset(self, request):
        rows = super().get_queryset(request).select_related("user")
        return rows if request.user.is_superuser else rows.filter(user=request.user)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user" and not request.user.is_superuser:
            kwargs["queryset"] = User.objects.filter(pk=request.user.pk)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_change_permission(self, request, obj=None):
        return False  # a token is issued or revoked, never edited

    def has_delete_permission(self, request, obj=None):
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or can_manage_token(request.user, obj.user))

    @admin.display(description="expires")
    def expires(self, obj):
        return token_expires_at(obj) or "never"

    def save_model(self, request, obj, form, change):
        if not can_manage_token(request.user, obj.user):
            raise PermissionDenied
        token = do_issue_token(owner=obj.user, user=request.user)
        obj.key, obj.created = token.key, token.created

    def delete_model(self, request, obj):
        do_revoke_token(token=obj, user=request.user)
