"""Admin of definitions: upload, validation report, publish/archive, who may start them."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from apps.core.errors import ServiceError
from apps.workflows import permissions as perms
from apps.workflows.models import DefinitionAccess, DefinitionEvent, WorkflowDefinition
from apps.workflows.services import access as access_services
from apps.workflows.services import definitions as definition_services


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
    """Paste the text or upload a file; the service parses, validates and versions it.

    The admin makes a subclass per request carrying the uploading user (`for_user`): a class
    attribute set on this shared class would let concurrent uploads record each other's user.
    """

    request_user = None

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
        if self.request_user is None:
            raise forms.ValidationError("This form must be made with for_user(request.user).")
        try:
            self.saved, _ = definition_services.do_save_definition(
                source=text, user=self.request_user, publish=data.get("publish_now", False)
            )
        except ServiceError as exc:
            details = "; ".join(f"{k}: {v}" for k, v in list(exc.fields.items())[:20])
            raise forms.ValidationError(f"{exc.message} {details}") from None
        return data

    @classmethod
    def for_user(cls, user) -> type[DefinitionUploadForm]:
        return type(cls.__name__, (cls,), {"request_user": user})


class DefinitionEventInline(admin.TabularInline):
    model = DefinitionEvent
    extra = 0
    can_delete = False
    readonly_fields = ["created_at", "event_type", "actor", "details"]
    fields = readonly_fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return perms.can_read_definitions(request.user)  # the history belongs to the version


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
        "starters",
        "start_link",
        "source_view",
    ]

    def has_view_permission(self, request, obj=None):
        return perms.can_read_definitions(request.user)

    def has_add_permission(self, request):
        return perms.can_upload_definitions(request.user)

    def has_change_permission(self, request, obj=None):
        return perms.can_change_definitions(request.user)

    def get_inlines(self, request, obj=None):
        return self.inlines if obj is not None else []

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            return DefinitionUploadForm.for_user(request.user)
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
                        "starters",
                        "start_link",
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

    def get_urls(self):
        from django.urls import path

        from apps.workflows.admin.starting import start_instance_view

        return [
            path(
                "<int:pk>/start/",
                self.admin_site.admin_view(
                    lambda request, pk: start_instance_view(self, request, pk)
                ),
                name="workflows_workflowdefinition_start",
            ),
            *super().get_urls(),
        ]

    @admin.display(description="Start")
    def start_link(self, obj):
        if obj.status != "published":
            return "only published versions start instances"
        url = reverse("admin:workflows_workflowdefinition_start", args=[obj.pk])
        return format_html("<a class='button' href='{}'>Start an instance…</a>", url)

    @admin.display(description="Who may start it")
    def starters(self, obj):
        names = access_services.starter_group_names(obj.key)
        access = DefinitionAccess.objects.filter(key=obj.key).first()
        url = (
            reverse("admin:workflows_definitionaccess_change", args=[access.pk])
            if access
            else reverse("admin:workflows_definitionaccess_add") + f"?key={obj.key}"
        )
        who = "members of " + ", ".join(names) if names else "staff with the start permission only"
        return format_html("{} (<a href='{}'>change</a>)", who, url)

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


class DefinitionAccessForm(forms.ModelForm):
    key = forms.ChoiceField(help_text="The definition's id (key); applies to all its versions.")

    class Meta:
        model = DefinitionAccess
        fields = ["key", "starter_groups"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        keys = WorkflowDefinition.objects.values_list("key", flat=True).distinct().order_by("key")
        self.fields["key"].choices = [(k, k) for k in keys]
        if self.instance.pk:
            self.fields["key"].disabled = True


@admin.register(DefinitionAccess)
class DefinitionAccessAdmin(admin.ModelAdmin):
    """Starter groups per definition key; saved through the service (audited)."""

    form = DefinitionAccessForm
    list_display = ["key", "groups", "updated_by", "updated_at"]
    search_fields = ["key"]
    filter_horizontal = ["starter_groups"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("starter_groups")

    def has_view_permission(self, request, obj=None):
        return perms.can_read_definitions(request.user)

    def has_add_permission(self, request):
        return perms.can_change_definitions(request.user)

    def has_change_permission(self, request, obj=None):
        return perms.can_change_definitions(request.user)

    def has_delete_permission(self, request, obj=None):
        return False  # emptying the groups is the audited way back to "staff only"

    def get_changeform_initial_data(self, request):
        return {"key": request.GET.get("key", "")}

    @admin.display(description="starter groups")
    def groups(self, obj):
        return ", ".join(g.name for g in obj.starter_groups.all()) or "— (staff only)"

    def save_model(self, request, obj, form, change):
        saved = access_services.do_set_starter_groups(
            key=form.cleaned_data["key"],
            groups=form.cleaned_data["starter_groups"],
            user=request.user,
        )
        obj.pk = saved.pk

    def save_related(self, request, form, formsets, change):
        pass  # the service set the groups
