"""Admin of the event plumbing: why did an event (not) land, and what is stuck going out.

Pages: inbound events (status, the instances each reached), waiting subscriptions (which
instance waits for what), the outbox (pending and failed counts, retry), dead letters
(reason, replay) and triggers. Read-only except through the services: retry, replay and the
triggers' changes call `do_*` functions, which write the audit.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.html import format_html

from apps.core.errors import ServiceError
from apps.workflows import permissions as perms
from apps.workflows.masking import mask_instance_data
from apps.workflows.models import (
    DeadLetter,
    EventDelivery,
    EventTrigger,
    EventWait,
    InboundEvent,
    OutboxEvent,
    OutboxStatus,
    Secret,
    WebhookAuth,
)
from apps.workflows.services import deadletters as dead_letter_services
from apps.workflows.services import retention
from apps.workflows.services import triggers as trigger_services

from .common import pretty
from .instances import _render_now, _rendering_for


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows the platform writes: operators look, services change."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _instance_link(instance_id) -> str:
    url = reverse("admin:workflows_workflowinstance_change", args=[instance_id])
    return format_html('<a href="{}">{}</a>', url, instance_id)


class DeliveryInline(admin.TabularInline):
    model = EventDelivery
    extra = 0
    can_delete = False
    fields = ["instance_link", "status", "attempts", "last_error", "created_at", "signalled_at"]
    readonly_fields = fields
    verbose_name_plural = "Instances it reached"

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="instance")
    def instance_link(self, obj):
        return _instance_link(obj.instance_id)


@admin.register(InboundEvent)
class InboundEventAdmin(ReadOnlyAdmin):
    """Every event received once (source, id): routed, or unrouted and kept for a later wait."""

    list_display = [
        "event_type",
        "event_id",
        "source",
        "status",
        "reached",
        "received_at",
        "kept_until",
        "origin",
    ]
    list_filter = ["status", "event_type"]
    search_fields = ["event_id", "event_type", "source"]
    date_hierarchy = "received_at"
    inlines = [DeliveryInline]
    exclude = ["event", "result"]
    readonly_fields = [
        "source",
        "event_id",
        "event_type",
        "status",
        "origin",
        "received_at",
        "kept_until",
        "delivered_count",
        "outcome",
        "event_view",
    ]

    def changelist_view(self, request, extra_context=None):
        from django.conf import settings

        title = (
            f"Inbound events (the bridge consumes {settings.KAFKA_EVENTS_TOPIC}; "
            f"{retention.kept_for(retention.INBOUND)} once routed)"
        )
        return super().changelist_view(request, {**(extra_context or {}), "title": title})

    @admin.display(description="instances reached", ordering="delivered_count")
    def reached(self, obj):
        started = len((obj.result or {}).get("started") or [])
        return f"{obj.delivered_count} woken, {started} started"

    @admin.display(description="routing")
    def outcome(self, obj):
        return pretty(obj.result)

    @admin.display(description="event")
    def event_view(self, obj):
        event = dict(obj.event or {})
        if "data" in event:
            event["data"] = "(data not shown: it may hold personal or secret values)"
        return pretty(event)


@admin.register(EventWait)
class EventWaitAdmin(ReadOnlyAdmin):
    """Waiting subscriptions: which instance waits for which event, correlated how."""

    list_display = ["event_type", "source", "instance_link", "wait_id", "rules", "created_at"]
    list_filter = ["event_type"]
    search_fields = ["event_type", "instance__id", "instance__business_key"]
    list_select_related = ["instance"]

    @admin.display(description="instance")
    def instance_link(self, obj):
        return _instance_link(obj.instance_id)

    @admin.display(description="correlation")
    def rules(self, obj):
        return (
            ", ".join(
                f"{r.get('name')} = {r.get('value') if r.get('value') is not None else '(any)'}"
                for r in obj.correlation or []
            )
            or "—"
        )


def _counts_title(model, base: str, labels: dict[str, str]) -> str:
    counts = model.objects.aggregate(**{key: Count("pk", filter=Q(status=key)) for key in labels})
    return base + ": " + ", ".join(f"{counts[key]} {label}" for key, label in labels.items())


@admin.register(OutboxEvent)
class OutboxEventAdmin(admin.ModelAdmin):
    """Events going out: pending, sent, and failed ones (retry them once the cause is fixed)."""

    list_display = [
        "event_id",
        "event_type",
        "destination",
        "status",
        "attempts",
        "last_error_short",
        "created_at",
        "published_at",
    ]
    list_filter = ["status", "topic", "event_type"]
    search_fields = ["event_id", "event_type", "source"]
    readonly_fields = [f.name for f in OutboxEvent._meta.fields if f.name != "data"] + ["data_view"]
    exclude = ["data"]
    actions = ["retry_selected"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        # A pending row is an event not yet sent: deleting it would lose it silently.
        if obj is not None and obj.published_at is None:
            return False
        return super().has_delete_permission(request, obj)

    def has_retry_permission(self, request):
        return perms.can_operate_events(request.user, "retry")

    def changelist_view(self, request, extra_context=None):
        title = (
            _counts_title(
                OutboxEvent,
                "Outbox",
                {OutboxStatus.PENDING: "pending", OutboxStatus.FAILED: "failed"},
            )
            + f" (sent rows {retention.kept_for(retention.OUTBOX)})"
        )
        return super().changelist_view(request, {**(extra_context or {}), "title": title})

    def change_view(self, request, object_id, form_url="", extra_context=None):
        with _rendering_for(request):
            return _render_now(super().change_view(request, object_id, form_url, extra_context))

    @admin.display(description="to")
    def destination(self, obj):
        return obj.webhook_url or obj.topic

    @admin.display(description="last error")
    def last_error_short(self, obj):
        return (obj.last_error[:80] + "…") if len(obj.last_error) > 80 else obj.last_error

    @admin.display(description="data")
    def data_view(self, obj):
        return pretty(mask_instance_data(obj.instance, obj.data) if obj.instance else obj.data)

    @admin.action(description="Retry selected (send again now)", permissions=["retry"])
    def retry_selected(self, request, queryset):
        count = dead_letter_services.do_retry_outbox(queryset, user=request.user)
        self.message_user(request, f"{count} event(s) will be sent again.", messages.SUCCESS)


@admin.register(DeadLetter)
class DeadLetterAdmin(ReadOnlyAdmin):
    """Messages the bridge could not parse or route, with the reason; replay after a fix."""

    list_display = ["__str__", "reason_short", "event_type", "status", "created_at", "replayed_at"]
    list_filter = ["status", "topic"]
    search_fields = ["reason", "event_id", "event_type"]
    exclude = ["key", "value"]
    readonly_fields = [
        "topic",
        "partition",
        "offset",
        "key_text",
        "reason",
        "event_id",
        "event_type",
        "status",
        "created_at",
        "replayed_at",
        "replay_outcome",
        "headers_view",
        "value_size",
    ]
    actions = ["replay_selected", "discard_selected"]

    def has_replay_permission(self, request):
        return perms.can_operate_events(request.user, "replay")

    def has_discard_permission(self, request):
        return perms.can_operate_events(request.user, "discard")

    def changelist_view(self, request, extra_context=None):
        title = (
            _counts_title(
                DeadLetter,
                "Dead letters",
                {DeadLetter.Status.NEW: "new", DeadLetter.Status.REPLAY_FAILED: "replay failed"},
            )
            + f" (replayed or discarded ones {retention.kept_for(retention.DEAD_LETTERS)})"
        )
        return super().changelist_view(request, {**(extra_context or {}), "title": title})

    @admin.display(description="reason")
    def reason_short(self, obj):
        return (obj.reason[:100] + "…") if len(obj.reason) > 100 else obj.reason

    @admin.display(description="key")
    def key_text(self, obj):
        return dead_letter_services.header_text(bytes(obj.key)) if obj.key is not None else "—"

    @admin.display(description="headers")
    def headers_view(self, obj):
        return pretty(obj.headers)

    @admin.display(description="replay")
    def replay_outcome(self, obj):
        return pretty(obj.replay_result) if obj.replay_result else "—"

    @admin.action(description="Replay selected (route them again)", permissions=["replay"])
    def replay_selected(self, request, queryset):
        for letter in queryset:
            try:
                outcome = dead_letter_services.do_replay_dead_letter(letter, user=request.user)
            except ServiceError as exc:
                self.message_user(request, f"{letter}: {exc.message}", messages.ERROR)
                continue
            if outcome["ok"]:
                self.message_user(request, f"{letter}: replayed.", messages.SUCCESS)
            else:
                self.message_user(request, f"{letter}: {outcome['reason']}", messages.ERROR)

    @admin.action(description="Discard selected (never replay them)", permissions=["discard"])
    def discard_selected(self, request, queryset):
        count = dead_letter_services.do_discard_dead_letters(queryset, user=request.user)
        self.message_user(request, f"{count} dead letter(s) discarded.", messages.SUCCESS)


class TriggerForm(forms.ModelForm):
    # A choice of the stored secrets' names (never their values); a name no longer in the
    # store stays selectable, marked, so the form shows what is saved and the check says why.
    secret_name = forms.ChoiceField(
        required=False,
        label="Secret",
        help_text=EventTrigger._meta.get_field("secret_name").help_text,
    )

    class Meta:
        model = EventTrigger
        fields = [
            "name",
            "enabled",
            "event_type",
            "source",
            "extensions",
            "condition",
            "action",
            "definition_key",
            "business_key_attribute",
            "url",
            "auth",
            "secret_name",
            "topic",
        ]
        widgets = {"condition": forms.Textarea(attrs={"rows": 3, "cols": 80})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        names = list(Secret.objects.order_by("name").values_list("name", flat=True))
        choices = [("", "---------")] + [(n, n) for n in names]
        current = self.initial.get("secret_name") or ""
        if current and current not in names:
            choices.append((current, f"{current} (not in the secrets store)"))
        self.fields["secret_name"].choices = choices
        self.fields["auth"].required = False  # not posted (an older form, a script): none

    def clean(self):
        data = super().clean()
        if "auth" in data and not data["auth"]:
            data["auth"] = WebhookAuth.NONE
        candidate = EventTrigger(**{k: v for k, v in data.items() if k in self.Meta.fields})
        try:
            trigger_services.validate_trigger(candidate)
        except ServiceError as exc:
            raise ValidationError(
                {name: msgs for name, msgs in exc.fields.items() if name in self.fields}
                or exc.message
            ) from None
        return data


@admin.register(EventTrigger)
class EventTriggerAdmin(admin.ModelAdmin):
    """Operators' rules: a filter on type, source, extensions and a jq condition, and what to do."""

    form = TriggerForm
    list_display = ["name", "enabled", "event_type", "source", "has_condition", "action", "target"]
    list_filter = ["enabled", "action", "auth"]
    search_fields = ["name", "event_type", "source"]
    fieldsets = [
        (None, {"fields": ["name", "enabled"]}),
        ("Which events", {"fields": ["event_type", "source", "extensions", "condition"]}),
        ("What to do", {"fields": ["action", "definition_key", "business_key_attribute", "topic"]}),
        ("Webhook", {"fields": ["url", "auth", "secret_name"]}),
    ]

    @admin.display(description="condition", boolean=True)
    def has_condition(self, obj):
        return bool(obj.condition)

    @admin.display(description="target")
    def target(self, obj):
        target = obj.definition_key or obj.url or obj.topic or obj.business_key_attribute
        if obj.action == EventTrigger.Action.WEBHOOK and obj.auth != WebhookAuth.NONE:
            return f"{target} ({obj.auth})"
        return target

    def save_model(self, request, obj, form, change):
        trigger_services.do_save_trigger(obj, user=request.user)

    def delete_model(self, request, obj):
        trigger_services.do_delete_trigger(obj, user=request.user)

    def delete_queryset(self, request, queryset):
        for trigger in queryset:
            trigger_services.do_delete_trigger(trigger, user=request.user)
