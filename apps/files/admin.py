"""Operators' admin of stored files: find them (by name or sha256), read their metadata and
audit trail, download them, soft-delete them through the service. Nothing is edited in place."""

from __future__ import annotations

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from apps.core.errors import ServiceError
from apps.files import permissions, services
from apps.files.models import FileEvent, StoredFile


class DeletedFilter(admin.SimpleListFilter):
    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return [("no", "Live"), ("yes", "Deleted")]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(deleted_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        return queryset


class FileEventInline(admin.TabularInline):
    model = FileEvent
    extra = 0
    can_delete = False
    verbose_name_plural = "audit trail"
    readonly_fields = ["created_at", "event_type", "actor", "details"]
    fields = readonly_fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm(permissions.VIEW_ALL)  # part of the file's page


@admin.register(StoredFile)
class StoredFileAdmin(admin.ModelAdmin):
    list_display = ["name", "content_type", "size", "owner", "task", "created_at", "deleted_at"]
    list_filter = [DeletedFilter, "content_type", "created_at"]
    search_fields = ["name", "=sha256", "=id"]
    list_select_related = ["owner", "task"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "id",
        "name",
        "content_type",
        "size",
        "sha256",
        "storage_key",
        "owner",
        "task",
        "instance",
        "created_at",
        "deleted_at",
        "deleted_by",
        "download",
    ]
    fields = readonly_fields
    inlines = [FileEventInline]
    actions = ["delete_selected_files"]

    def get_queryset(self, request):
        # The admin's own permission says who gets here; the helper decides what they read.
        return permissions.visible_files(request.user, super().get_queryset(request))

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # a hard delete would bypass the service
        return actions

    def has_add_permission(self, request):
        return False  # uploads go through the API and the inbox (sniffed, hashed, bounded)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # soft delete only, through the action below

    def has_soft_delete_permission(self, request) -> bool:
        return request.user.has_perm(permissions.DELETE_ANY)

    @admin.display(description="content")
    def download(self, obj) -> str:
        if obj.is_deleted:
            return "deleted"
        url = reverse("api:file-content", args=[obj.pk])
        return format_html('<a href="{}">Download {}</a>', url, obj.name)

    @admin.action(
        description="Delete selected files (soft: no longer listed or served)",
        permissions=["soft_delete"],
    )
    def delete_selected_files(self, request, queryset):
        done = 0
        for stored in queryset.order_by("pk"):
            try:
                services.do_delete_file(stored, user=request.user)
                done += 1
            except ServiceError as exc:
                messages.error(request, f"{stored}: {exc.message}")
        if done:
            messages.success(request, f"{done} file(s) deleted.")
