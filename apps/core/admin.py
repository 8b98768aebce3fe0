"""Admin site branding and the platform audit trail."""

from django.contrib import admin

from apps.core.models import PlatformEvent

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
