"""Operators' admin of user tasks: find them, reassign or cancel them (through the services),
read their audit trail. Nothing is edited in place: every change is a service call."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth import get_user_model
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from apps.core.errors import ServiceError
from apps.files.models import StoredFile
from apps.tasks import permissions, services
from apps.tasks.models import TaskComment, TaskEvent, UserTask
from apps.tasks.services.audit import describe


class TaskEventInline(admin.TabularInline):
    model = TaskEvent
    extra = 0
    can_delete = False
    verbose_name_plural = "audit trail"
    readonly_fields = ["created_at", "event_type", "actor", "what", "details"]
    fields = readonly_fields

    @admin.display(description="what happened")
    def what(self, obj) -> str:
        return describe(obj)

    def has_add_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("tasks.view_usertask")  # part of the task's page


class TaskCommentInline(admin.TabularInline):
    model = TaskComment
    extra = 0
    can_delete = False
    readonly_fields = ["created_at", "author", "text"]
    fields = readonly_fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("tasks.view_usertask")  # part of the task's page


class TaskAttachmentInline(admin.TabularInline):
    """The task's files (the files app's rows), each with its download link."""

    model = StoredFile
    fk_name = "task"
    extra = 0
    can_delete = False
    verbose_name_plural = "attachments"
    readonly_fields = ["name", "content_type", "size", "owner", "created_at", "download"]
    fields = readonly_fields

    def get_queryset(self, request):
        return super().get_queryset(request).filter(deleted_at__isnull=True).select_related("owner")

    @admin.display(description="content")
    def download(self, obj) -> str:
        return format_html('<a href="{}">Download</a>', reverse("api:file-content", args=[obj.pk]))

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("tasks.view_usertask")  # part of the task's page


class ReassignForm(forms.Form):
    assignee = forms.ModelChoiceField(
        queryset=get_user_model().objects.filter(is_active=True).order_by("username"),
        required=False,
        help_text="Empty: the tasks go back to their candidates' queue.",
    )


def _pretty(value) -> str:
    return format_html(
        "<pre class='xflow-json'>{}</pre>",
        json.dumps(value, indent=2, ensure_ascii=False, default=str),
    )


@admin.register(UserTask)
class UserTaskAdmin(admin.ModelAdmin):
    list_display = [
        "title",
        "task_key",
        "status",
        "assignee",
        "priority",
        "due_at",
        "definition_key",
        "instance_link",
        "created_at",
    ]
    list_filter = ["status", "definition_key", "task_key", "priority", "due_at", "created_at"]
    search_fields = ["=id", "title", "task_key", "assignee__username", "instance_key"]
    list_select_related = ["assignee", "owner"]
    show_full_result_count = False  # a million rows: no COUNT(*) per page
    ordering = ["-created_at"]
    actions = ["reassign_selected", "cancel_selected"]
    inlines = [TaskCommentInline, TaskAttachmentInline, TaskEventInline]
    fields = [
        "title",
        "task_key",
        "state_name",
        "status",
        "instance_link",
        "definition_key",
        "definition_version",
        "form_key",
        "form_version",
        "assignee",
        "owner",
        "candidate_users",
        "candidate_groups",
        "priority",
        "due_at",
        "follow_up_at",
        "outcomes_view",
        "outcome",
        "input_view",
        "draft_view",
        "output_view",
        "timers_view",
        "task_timeout",
        "escalations",
        "created_at",
        "claimed_at",
        "completed_at",
        "completed_by",
        "resume_view",
    ]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False  # tasks come from workflows

    def has_change_permission(self, request, obj=None):
        return False  # changes go through the actions (services), never a raw edit

    def has_delete_permission(self, request, obj=None):
        return False  # "cancel" deletes through the service, so the workflow hears of it

    def has_assign_permission(self, request) -> bool:
        return permissions.is_manager(request.user)

    def has_cancel_permission(self, request) -> bool:
        return permissions.is_operator(request.user)

    @admin.display(description="instance")
    def instance_link(self, obj) -> str:
        if not obj.instance_id:
            return obj.instance_key or "-"
        try:
            url = reverse("admin:workflows_workflowinstance_change", args=[obj.instance_id])
        except NoReverseMatch:
            return str(obj.instance_id)
        return format_html('<a href="{}">{}</a>', url, str(obj.instance_id)[:8])

    @admin.display(description="input")
    def input_view(self, obj) -> str:
        return _pretty(obj.input)

    @admin.display(description="draft")
    def draft_view(self, obj) -> str:
        return _pretty(obj.draft)

    @admin.display(description="submitted data")
    def output_view(self, obj) -> str:
        return _pretty(obj.output)

    @admin.display(description="outcomes")
    def outcomes_view(self, obj) -> str:
        return ", ".join(f"{o.get('label')} ({o.get('name')})" for o in obj.outcomes or []) or "-"

    @admin.display(description="timers")
    def timers_view(self, obj) -> str:
        return _pretty(obj.timers) if obj.timers else "-"

    @admin.display(description="process resumed")
    def resume_view(self, obj) -> str:
        resume = getattr(obj, "resume", None)
        if resume is None:
            return "-"
        when = resume.signalled_at or resume.created_at
        status = resume.get_status_display()
        return f"{status} ({when:%Y-%m-%d %H:%M:%S}, {resume.attempts} attempt(s))"

    @admin.action(description="Reassign selected tasks…", permissions=["assign"])
    def reassign_selected(self, request, queryset):
        form = ReassignForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            assignee = form.cleaned_data["assignee"]
            done = self._each(
                request,
                queryset,
                lambda task: services.do_assign_task(task, user=request.user, assignee=assignee),
            )
            who = assignee.get_username() if assignee else "the queue"
            if done:
                messages.success(request, f"{done} task(s) given to {who}.")
            return None
        return TemplateResponse(
            request,
            "admin/tasks/usertask/reassign.html",
            {
                **self.admin_site.each_context(request),
                "title": "Reassign tasks",
                "opts": self.model._meta,
                "form": form,
                "tasks": queryset,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            },
        )

    @admin.action(
        description="Cancel (delete) selected tasks: their processes take onTaskDeleted",
        permissions=["cancel"],
    )
    def cancel_selected(self, request, queryset):
        done = self._each(
            request,
            queryset,
            lambda task: services.do_delete_task(
                task, user=request.user, reason="cancelled by an operator in the admin"
            ),
        )
        if done:
            messages.success(request, f"{done} task(s) cancelled.")

    def _each(self, request, queryset, change) -> int:
        done = 0
        for task in queryset.order_by("pk"):
            try:
                change(task)
                done += 1
            except ServiceError as exc:
                messages.error(request, f"{task}: {exc.message}")
        return done
