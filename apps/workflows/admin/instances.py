"""Admin of instances: watch them (data masked), control them through the lifecycle table."""

from __future__ import annotations

import contextlib
import contextvars

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from apps.core.errors import ServiceError
from apps.workflows import permissions as perms
from apps.workflows.masking import mask_instance_data, masking_scope
from apps.workflows.models import InstanceEvent, WorkflowInstance
from apps.workflows.services import instances as instance_services

from .common import pretty

# Display callables get the object, not the request: the page's viewer is kept here while
# the page renders, so the buttons shown are the ones `available_actions` gives this user.
_viewer: contextvars.ContextVar = contextvars.ContextVar("xflow_admin_viewer", default=None)


@contextlib.contextmanager
def _rendering_for(request):
    token = _viewer.set(request.user)
    try:
        with masking_scope():
            yield
    finally:
        _viewer.reset(token)


def _render_now(response):
    # A TemplateResponse renders after the view returns; render inside the scope instead.
    if hasattr(response, "render") and not getattr(response, "is_rendered", True):
        response.render()
    return response


class InstanceEventInline(admin.TabularInline):
    model = InstanceEvent
    extra = 0
    can_delete = False
    fields = ["when", "event_type", "state", "text", "actor"]
    readonly_fields = fields
    ordering = ["created_at", "id"]
    verbose_name_plural = "Timeline"

    def has_add_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return perms.can_see_all_instances(request.user)  # the timeline belongs to the instance

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor", "instance__definition")

    @admin.display(description="time")
    def when(self, obj):
        return obj.occurred_at or obj.created_at

    @admin.display(description="what happened")
    def text(self, obj):
        from apps.workflows.selectors import describe_timeline_entry

        return mask_instance_data(obj.instance, describe_timeline_entry(obj))


@admin.register(WorkflowInstance)
class WorkflowInstanceAdmin(admin.ModelAdmin):
    list_display = [
        "short_id",
        "definition_key",
        "version",
        "business_key",
        "status",
        "current",
        "created_at",
        "ended_at",
    ]
    list_filter = ["status", "definition_key", "created_at"]
    search_fields = ["id", "business_key", "definition_key"]
    date_hierarchy = "created_at"
    list_select_related = ["definition"]
    inlines = [InstanceEventInline]
    actions = ["cancel_selected", "terminate_selected", "retry_selected", "restart_selected"]
    readonly_fields = [
        "id",
        "definition_link",
        "business_key",
        "status",
        "current_states",
        "pending_view",
        "tasks_view",
        "visited_states",
        "parent",
        "restarted_from",
        "started_by",
        "created_at",
        "ended_at",
        "diagram",
        "input_view",
        "output_view",
        "error_view",
        "workflow_id",
        "run_id",
        "controls",
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "id",
                    "definition_link",
                    "business_key",
                    "status",
                    "current_states",
                    "pending_view",
                    "tasks_view",
                    "parent",
                    "restarted_from",
                    "started_by",
                    "created_at",
                    "ended_at",
                    "controls",
                ]
            },
        ),
        ("Where it is", {"fields": ["diagram"]}),
        ("Data", {"fields": ["input_view", "output_view", "error_view"]}),
        (
            "Engine",
            {"fields": ["workflow_id", "run_id", "visited_states"], "classes": ["collapse"]},
        ),
    ]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return perms.can_see_all_instances(request.user)

    def has_change_permission(self, request, obj=None):
        # Nothing is edited by hand; "change" opens the actions, each checked by the table.
        return perms.can_see_all_instances(request.user) and request.user.has_perm(
            perms.CHANGE_INSTANCE
        )

    def get_queryset(self, request):
        return perms.visible_instances(request.user)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        with _rendering_for(request):
            return _render_now(super().change_view(request, object_id, form_url, extra_context))

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        # Nothing on this page is edited by hand: changes go through the actions.
        context.update(
            show_save=False, show_save_and_continue=False, show_save_and_add_another=False
        )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_urls(self):
        return [
            path(
                "<uuid:pk>/control/<str:op>/",
                self.admin_site.admin_view(self.control_view),
                name="workflows_instance_control",
            ),
            *super().get_urls(),
        ]

    @admin.display(description="id")
    def short_id(self, obj):
        return str(obj.id)[:8]

    @admin.display(description="current state(s)")
    def current(self, obj):
        return ", ".join(obj.current_states or []) or "—"

    @admin.display(description="its tasks")
    def tasks_view(self, obj):
        from apps.tasks.selectors import tasks_of_instance
        from apps.workflows.masking import mask_instance_data

        tasks = list(tasks_of_instance(obj)[:50])
        if not tasks:
            return "—"
        return format_html_join(
            mark_safe("<br>"),
            "<a href='{}'>{}</a> — {}{}",
            (
                (
                    reverse("admin:tasks_usertask_change", args=[t.pk]),
                    mask_instance_data(obj, t.title or t.task_key),
                    t.get_status_display(),
                    f" ({t.assignee.get_username()})" if t.assignee_id else "",
                )
                for t in tasks
            ),
        )

    @admin.display(description="actions in flight")
    def pending_view(self, obj):
        pending = obj.pending_actions or []
        if not pending:
            return "—"
        return format_html_join(
            ", ",
            "{} → {} (since {})",
            ((p.get("action"), p.get("function"), p.get("since")) for p in pending),
        )

    @admin.display(description="definition")
    def definition_link(self, obj):
        url = reverse("admin:workflows_workflowdefinition_change", args=[obj.definition_id])
        return format_html("<a href='{}'>{}</a>", url, obj.definition)

    @admin.display(description="Diagram (visited: green, current: blue, failed: red)")
    def diagram(self, obj):
        url = reverse("api:instance-diagram", args=[obj.pk])
        return format_html(
            "<img src='{}' alt='Diagram of the instance' style='max-width:100%'>", url
        )

    @admin.display(description="input")
    def input_view(self, obj):
        return pretty(mask_instance_data(obj, obj.input))

    @admin.display(description="output")
    def output_view(self, obj):
        return pretty(mask_instance_data(obj, obj.output))

    @admin.display(description="error")
    def error_view(self, obj):
        return pretty(mask_instance_data(obj, obj.error)) if obj.error else "—"

    @admin.display(description="actions")
    def controls(self, obj):
        ops = perms.available_actions(obj, _viewer.get())
        if not ops:
            return "—"
        return format_html_join(
            " ",
            "<a class='button' href='{}'>{}</a>",
            (
                (reverse("admin:workflows_instance_control", args=[obj.pk, op]), op.capitalize())
                for op in ops
            ),
        )

    _SERVICES = {
        "cancel": instance_services.do_cancel_instance,
        "terminate": instance_services.do_terminate_instance,
        "retry": instance_services.do_retry_instance,
        "restart": instance_services.do_restart_instance,
    }

    def control_view(self, request, pk, op):
        if op not in self._SERVICES:
            raise Http404("No such action.")
        try:
            instance = perms.access_instance(request.user, pk)
        except ServiceError:
            raise Http404("No such instance.") from None
        try:
            perms.require_instance_action(instance, request.user, op)
        except ServiceError as exc:
            if exc.status_code == 403:
                raise PermissionDenied(exc.message) from None
            self.message_user(request, exc.message, messages.ERROR)  # not in this state
            return HttpResponseRedirect(
                reverse("admin:workflows_workflowinstance_change", args=[instance.pk])
            )
        if request.method != "POST":
            return TemplateResponse(
                request,
                "admin/workflows/confirm_control.html",
                {
                    **self.admin_site.each_context(request),
                    "instance": instance,
                    "op": op,
                    "opts": self.model._meta,
                },
            )
        try:
            instance = self._SERVICES[op](instance, user=request.user)
            self.message_user(request, f"{op.capitalize()}: done.", messages.SUCCESS)
        except ServiceError as exc:
            self.message_user(request, exc.message, messages.ERROR)
        return HttpResponseRedirect(
            reverse("admin:workflows_workflowinstance_change", args=[instance.pk])
        )

    def _bulk(self, request, queryset, op):
        for instance in queryset:
            try:
                perms.require_instance_action(instance, request.user, op)
                self._SERVICES[op](instance, user=request.user)
                self.message_user(request, f"{instance}: {op} done.", messages.SUCCESS)
            except ServiceError as exc:
                self.message_user(request, f"{instance}: {exc.message}", messages.ERROR)

    @admin.action(description="Cancel selected instances")
    def cancel_selected(self, request, queryset):
        self._bulk(request, queryset, "cancel")

    @admin.action(description="Terminate selected instances")
    def terminate_selected(self, request, queryset):
        self._bulk(request, queryset, "terminate")

    @admin.action(description="Retry selected failed instances")
    def retry_selected(self, request, queryset):
        self._bulk(request, queryset, "retry")

    @admin.action(description="Restart selected instances (same input)")
    def restart_selected(self, request, queryset):
        self._bulk(request, queryset, "restart")
