"""Admin of the secrets store: write-only values, by model permission, through the services."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages

from apps.core.errors import ServiceError
from apps.workflows import permissions as perms
from apps.workflows.models import Secret
from apps.workflows.services import secrets as secret_services


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

    def clean(self):
        data = super().clean()
        if self.instance.pk is None and not data.get("value"):
            self.add_error("value", "A new secret needs a value.")
        return data


@admin.register(Secret)
class SecretAdmin(admin.ModelAdmin):
    """Every change goes through services/secrets.py, so each one has its audit row."""

    form = SecretForm
    list_display = ["name", "description", "updated_at", "updated_by"]
    search_fields = ["name"]

    def get_readonly_fields(self, request, obj=None):
        # Renaming would bypass the audit trail and break the definitions naming it.
        return ["name"] if obj is not None else []

    def has_view_permission(self, request, obj=None):
        return perms.can_manage_secrets(request.user, "view") or perms.can_manage_secrets(
            request.user, "change"
        )

    def has_add_permission(self, request):
        return perms.can_manage_secrets(request.user, "add")

    def has_change_permission(self, request, obj=None):
        return perms.can_manage_secrets(request.user, "change")

    def has_delete_permission(self, request, obj=None):
        return perms.can_manage_secrets(request.user, "delete")

    def save_model(self, request, obj, form, change):
        raw = form.cleaned_data.get("value") or ""
        name = obj.name if change else form.cleaned_data["name"]
        description = form.cleaned_data.get("description", "")
        if not raw and change:
            saved = secret_services.do_describe_secret(
                name=name, description=description, user=request.user
            )
        else:
            try:
                value = json.loads(raw)
            except ValueError:
                value = raw
            saved = secret_services.do_set_secret(
                name=name, value=value, description=description, user=request.user
            )
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        secret_services.do_delete_secret(name=obj.name, user=request.user)

    def delete_queryset(self, request, queryset):
        for name in queryset.values_list("name", flat=True):
            try:
                secret_services.do_delete_secret(name=name, user=request.user)
            except ServiceError as exc:  # deleted by someone else meanwhile
                self.message_user(request, exc.message, messages.WARNING)
