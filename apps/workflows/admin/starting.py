"""The definition page's "Start instance": input as JSON, checked like the API's."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from rest_framework.exceptions import ParseError

from apps.core.api.parsers import parse_json
from apps.core.errors import ServiceError
from apps.workflows import permissions as perms
from apps.workflows.models import WorkflowDefinition
from apps.workflows.services import instances as instance_services

MAX_INPUT_CHARS = 1_000_000


class StartInstanceForm(forms.Form):
    input = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 12, "cols": 80, "spellcheck": "false"}),
        initial="{}",
        max_length=MAX_INPUT_CHARS,
        help_text="The instance's input, as JSON (an object, usually).",
    )
    business_key = forms.CharField(
        max_length=200, required=False, help_text="Optional: how people refer to this case."
    )

    def clean_input(self):
        try:
            return parse_json(self.cleaned_data["input"])
        except ParseError as exc:
            raise forms.ValidationError(str(exc.detail).replace("The body", "The input")) from None

    def clean_business_key(self):
        value = self.cleaned_data["business_key"]
        if "\x00" in value:
            raise forms.ValidationError("The business key contains a NUL character.")
        return value


def start_instance_view(model_admin, request, pk):
    """GET: the form; POST: start through the same service and rules as the API."""
    definition = get_object_or_404(WorkflowDefinition, pk=pk)
    try:
        perms.require_start(request.user, definition.key)
    except ServiceError as exc:
        model_admin.message_user(request, exc.message, messages.ERROR)
        return HttpResponseRedirect(
            reverse("admin:workflows_workflowdefinition_change", args=[definition.pk])
        )
    form = StartInstanceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            instance = instance_services.do_start_instance(
                definition=definition,
                input=form.cleaned_data["input"],
                business_key=form.cleaned_data["business_key"],
                user=request.user,
            )
        except ServiceError as exc:
            form.add_error("input" if exc.fields else None, exc.message)
        else:
            model_admin.message_user(request, f"Started {instance}.", messages.SUCCESS)
            return HttpResponseRedirect(
                reverse("admin:workflows_workflowinstance_change", args=[instance.pk])
            )
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "definition": definition,
        "form": form,
        "title": f"Start an instance of {definition}",
    }
    return TemplateResponse(request, "admin/workflows/start_instance.html", context)
