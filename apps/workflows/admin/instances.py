"""Operators' admin: publish definitions, watch and control instances, manage secrets."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from apps.core.errors import ServiceError
from apps.workflows.models import (
    DefinitionEvent,
    InstanceEvent,
    OutboxEvent,
    Secret,
    WorkflowDefinition,
    WorkflowInstance,
)
from apps.workflows.services import definitions as definition_services
from apps.workflows.services import instances as instance_services
from apps.workflows.services import secrets as secret_services


def _pretty(value) -> str:
    return format_html(
        "<pre class='xflow-json'>{}</pre>",
        json.dumps(value, indent=2, ensure_ascii=False, default=str),
    )


def _issues_table(issues: list[dict]) -> str:
    if not issues:
        return format_html("<p>{}</p>", "No problems found.")
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
        (
            (i.get("severity", "error"), i.get("path") or "(document)", i.get("message", ""))
            for i in issues
        ),
    )
    return format_html(
        "<table><tr><th>severity</th><th>where</th><th>problem</th></tr>{}</table>", rows
    )


class DefinitionUploadForm(forms.ModelForm):
    """Paste the text or upload a file; the service parses, validates and versions it."""

    upload = forms.FileField(required=False, help_text="A .json, .yaml or .yml file.")
    source = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 24, "cols": 100}),
        required=False,
        help_text="Or paste the JSON/YAML text here.",
    )
    publish_now = forms.BooleanField(required=False, help_text="Publish if there are no errors.")

    class Meta:
        model = WorkflowDefinition
        fields = ["source"]

    def clean(self):
        data = super().clean()
        upload = data.get("upload")
        text = data.get("source") or ""
        if upload:
            if upload.size > 1024 * 1024:
                raise forms.ValidationError("The file is larger than 1 MiB.")
            text = upload.read().decode("utf-8", "replace")
        if not text.strip():
            raise forms.ValidationError("Paste a definition or choose a file.")
        try:
            self.saved, _ = definition_services.do_save_definition(
                source=text, user=self.request_user, publish=data.get("publish_now", False)
            )
        except ServiceError as exc:
            details = "; ".join(f"{k}: {v}" for k, v in list(exc.fields.items())[:20])
            raise forms.ValidationError(f"{exc.message} {details}") from None
        return data


class DefinitionEventInline(admin.TabularInline):
    model = DefinitionEvent
    extra = 0
    can_delete = False
    readonly_fields = ["created_at", "event_type", "actor", "details"]
    fields = readonly_fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WorkflowDefinition)
class WorkflowDefinitionAdmin(admin.ModelAdmin):
    list_display = ["key", "version", "name", "status", "is_latest", "error_count", "published_at"]
    list_filter = ["status", "is_latest"]
    search_fields = ["key", "name", "description"]
    ordering = ["key", "-created_at"]
    actions = ["publish_selected", "archive_selected", "mark_latest_selected"]
    inlines = [DefinitionEventInline]
    readonly_fields = [
        "key",
        "version",
        "name",
        "status",
        "is_latest",
        "checksum",
        "author",
        "created_at",
        "published_at",
        "report",
        "diagram",
        "versions",
        "exports",
        "source_view",
    ]

    def get_inlines(self, request, obj=None):
        return self.inlines if obj is not None else []

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            form = DefinitionUploadForm
            form.request_user = request.user
            return form
        return super().get_form(request, obj, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ["upload", "source", "publish_now"]})]
        return [
            (
                None,
                {
                    "fields": [
                        "key",
                        "version",
                        "name",
                        "status",
                        "is_latest",
                        "author",
                        "created_at",
                        "published_at",
                        "checksum",
                        "exports",
                    ]
                },
            ),
            ("Validation", {"fields": ["report"]}),
            ("Diagram", {"fields": ["diagram"]}),
            ("Versions", {"fields": ["versions"]}),
            ("Source", {"fields": ["source_view"], "classes": ["collapse"]}),
        ]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def save_form(self, request, form, change):
        # Adding: the service already parsed, validated and saved it in the form's clean().
        return super().save_form(request, form, change) if change else form.saved

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:  # a stored version never changes here: actions only
            context.update(
                show_save=False, show_save_and_continue=False, show_save_and_add_another=False
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def response_add(self, request, obj, post_url_continue=None):
        # After an upload the operator wants its report and diagram, not the list.
        errors = f" with {obj.error_count} error(s)" if obj.error_count else ""
        self.message_user(
            request,
            f"{obj} saved as {obj.status}{errors}.",
            messages.WARNING if obj.error_count else messages.SUCCESS,
        )
        return HttpResponseRedirect(
            reverse("admin:workflows_workflowdefinition_change", args=[obj.pk])
        )

    def save_related(self, request, form, formsets, change):
        if change:
            super().save_related(request, form, formsets, change)

    def has_delete_permission(self, request, obj=None):
        return bool(obj is None or not obj.instances.exists()) and super().has_delete_permission(
            request, obj
        )

    @admin.display(description="Problems")
    def report(self, obj):
        return _issues_table(obj.issues)

    @admin.display(description="Diagram")
    def diagram(self, obj):
        url = reverse("api:definition-diagram", args=[obj.key, obj.version])
        return format_html("<img src='{}' alt='Diagram of {}' style='max-width:100%'>", url, obj)

    @admin.display(description="Export")
    def exports(self, obj):
        url = reverse("api:definition-export", args=[obj.key, obj.version])
        return format_html(
            "<a href='{}?format=json'>JSON</a> · <a href='{}?format=yaml'>YAML</a>", url, url
        )

    @admin.display(description="All versions")
    def versions(self, obj):
        rows = WorkflowDefinition.objects.filter(key=obj.key).order_by("-created_at")
        return format_html_join(
            mark_safe("<br>"),
            "<a href='{}'>{}</a> — {}{}",
            (
                (
                    reverse("admin:workflows_workflowdefinition_change", args=[r.pk]),
                    r.version,
                    r.status,
                    " (latest)" if r.is_latest else "",
                )
                for r in rows
            ),
        )

    @admin.display(description="Source")
    def source_view(self, obj):
        return format_html("<pre>{}</pre>", obj.source)

    def _bulk(self, request, queryset, service, verb):
        for definition in queryset:
            try:
                service(definition, user=request.user)
                self.message_user(request, f"{definition}: {verb}.", messages.SUCCESS)
            except ServiceError as exc:
                self.message_user(request, f"{definition}: {exc.message}", messages.ERROR)

    @admin.action(description="Publish selected versions", permissions=["change"])
    def publish_selected(self, request, queryset):
        self._bulk(request, queryset, definition_services.do_publish_definition, "published")

    @admin.action(description="Archive selected versions", permissions=["change"])
    def archive_selected(self, request, queryset):
        self._bulk(request, queryset, definition_services.do_archive_definition, "archived")

    @admin.action(description="Make the selected version the latest", permissions=["change"])
    def mark_latest_selected(self, request, queryset):
        self._bulk(request, queryset, definition_services.do_mark_latest, "is now the latest")


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

    @admin.display(description="time")
    def when(self, obj):
        return obj.occurred_at or obj.created_at

    @admin.display(description="what happened")
    def text(self, obj):
        from apps.workflows.selectors import describe_timeline_entry

        return describe_timeline_entry(obj)


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
        return _pretty(obj.input)

    @admin.display(description="output")
    def output_view(self, obj):
        return _pretty(obj.output)

    @admin.display(description="error")
    def error_view(self, obj):
        return _pretty(obj.error) if obj.error else "—"

    @admin.display(description="actions")
    def controls(self, obj):
        ops = ["cancel", "terminate"] if obj.is_open else []
        if obj.status in {"failed", "timed_out"}:
            ops.append("retry")
        ops.append("restart")
        return format_html_join(
            " ",
            "<a class='button' href='{}'>{}</a>",
            (
                (reverse("admin:workflows_instance_control", args=[obj.pk, op]), op.capitalize())
                for op in ops
            ),
        )

    _OPS = {
        "cancel": (instance_services.do_cancel_instance, "workflows.change_workflowinstance"),
        "terminate": (instance_services.do_terminate_instance, "workflows.change_workflowinstance"),
        "retry": (instance_services.do_retry_instance, "workflows.change_workflowinstance"),
        "restart": (instance_services.do_restart_instance, "workflows.add_workflowinstance"),
    }

    def control_view(self, request, pk, op):
        instance = get_object_or_404(WorkflowInstance, pk=pk)
        if op not in self._OPS:
            return HttpResponse(status=404)
        service, perm = self._OPS[op]
        if not request.user.has_perm(perm):
            self.message_user(request, "You are not allowed to do this.", messages.ERROR)
        elif request.method != "POST":
            from django.template.response import TemplateResponse

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
        else:
            try:
                result = service(instance, user=request.user)
                self.message_user(request, f"{op.capitalize()}: done.", messages.SUCCESS)
                instance = result
            except ServiceError as exc:
                self.message_user(request, exc.message, messages.ERROR)
        return HttpResponseRedirect(
            reverse("admin:workflows_workflowinstance_change", args=[instance.pk])
        )

    def _bulk(self, request, queryset, op):
        service, perm = self._OPS[op]
        if not request.user.has_perm(perm):
            self.message_user(request, "You are not allowed to do this.", messages.ERROR)
            return
        for instance in queryset:
            try:
                service(instance, user=request.user)
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


class SecretForm(forms.ModelForm):
    value = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        required=False,
        help_text="Stored encrypted; never shown again. JSON is accepted "
        "(e.g. an object); plain text is stored as a string. Leave empty "
        "to keep the current value.",
    )

    class Meta:
        model = Secret
        fields = ["name", "description"]


@admin.register(Secret)
class SecretAdmin(admin.ModelAdmin):
    form = SecretForm
    list_display = ["name", "description", "updated_at", "updated_by"]
    search_fields = ["name"]

    def save_model(self, request, obj, form, change):
        raw = form.cleaned_data.get("value") or ""
        if not raw and change:
            obj.description = form.cleaned_data.get("description", "")
            obj.save(update_fields=["description", "updated_at"])
            return
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        saved = secret_services.do_set_secret(
            name=form.cleaned_data["name"],
            value=value,
            description=form.cleaned_data.get("description", ""),
            user=request.user,
        )
        obj.pk = saved.pk


@admin.register(OutboxEvent)
class OutboxEventAdmin(admin.ModelAdmin):
    list_display = ["event_id", "event_type", "topic", "created_at", "published_at", "attempts"]
    list_filter = ["topic", "event_type"]
    search_fields = ["event_id", "event_type", "source"]
    readonly_fields = [f.name for f in OutboxEvent._meta.fields]

    def has_add_permission(self, request):
        return False
