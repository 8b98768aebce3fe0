"""Serializers of the workflows API: they validate and shape data; services do the work.

Response serializers say exactly what is sent: every field present, `allow_null` where the
value can be null, nested serializers instead of free-form dicts, so the OpenAPI schema the
contract test checks every answer against is the truth.
"""

from __future__ import annotations

import re

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.workflows.dsl.loader import MAX_DEFINITION_BYTES
from apps.workflows.masking import InstanceMasker
from apps.workflows.models import (
    DefinitionStatus,
    InstanceEvent,
    InstanceStatus,
    Secret,
    WorkflowDefinition,
    WorkflowInstance,
)
from apps.workflows.permissions import available_actions

# --- definitions ------------------------------------------------------------------------------


class IssueSerializer(serializers.Serializer):
    path = serializers.CharField(help_text="Where, as a JSON path (`states[2].transition`).")
    code = serializers.CharField(help_text="A stable code, e.g. `unknown_state`.")
    message = serializers.CharField()
    severity = serializers.ChoiceField(choices=["error", "warning"])


class DefinitionUploadSerializer(serializers.Serializer):
    """Either `source` (JSON or YAML text) or `definition` (the document as a JSON object)."""

    source = serializers.CharField(
        required=False,
        trim_whitespace=False,
        allow_blank=False,
        max_length=MAX_DEFINITION_BYTES,
        help_text="The definition as JSON or YAML text.",
    )
    definition = serializers.DictField(
        required=False, help_text="The definition document as a JSON object."
    )
    publish = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs):
        if bool(attrs.get("source")) == bool(attrs.get("definition")):
            raise serializers.ValidationError(
                "Send the definition either as 'source' (JSON or YAML text) or as 'definition' "
                "(a JSON object), not both and not neither."
            )
        return attrs


class DefinitionLinksSerializer(serializers.Serializer):
    self = serializers.CharField()
    diagram = serializers.CharField()
    export_json = serializers.CharField()
    export_yaml = serializers.CharField()
    publish = serializers.CharField()


class DefinitionVersionSerializer(serializers.ModelSerializer):
    author = serializers.CharField(
        source="author.username", default=None, allow_null=True, read_only=True
    )
    issues = IssueSerializer(many=True, read_only=True)
    links = serializers.SerializerMethodField()

    class Meta:
        model = WorkflowDefinition
        fields = [
            "key",
            "version",
            "name",
            "description",
            "status",
            "is_latest",
            "checksum",
            "error_count",
            "issues",
            "author",
            "created_at",
            "updated_at",
            "published_at",
            "links",
        ]
        read_only_fields = fields

    @extend_schema_field(DefinitionLinksSerializer)
    def get_links(self, obj) -> dict[str, str]:
        base = f"/api/v1/definitions/{obj.key}/versions/{obj.version}"
        return {
            "self": base + "/",
            "diagram": base + "/diagram.svg",
            "export_json": base + "/export?format=json",
            "export_yaml": base + "/export?format=yaml",
            "publish": base + "/publish",
        }


class DefinitionDetailSerializer(DefinitionVersionSerializer):
    document = serializers.JSONField(
        read_only=True, help_text="The parsed definition (a JSON object)."
    )

    class Meta(DefinitionVersionSerializer.Meta):
        fields = [*DefinitionVersionSerializer.Meta.fields, "source_format", "source", "document"]
        read_only_fields = fields


class SummaryLinksSerializer(serializers.Serializer):
    self = serializers.CharField()
    diagram = serializers.CharField()


class DefinitionSummarySerializer(serializers.ModelSerializer):
    """What a user who may start a definition sees of it: no source, document or issues."""

    links = serializers.SerializerMethodField()

    class Meta:
        model = WorkflowDefinition
        fields = ["key", "version", "name", "description", "status", "is_latest", "links"]
        read_only_fields = fields

    @extend_schema_field(SummaryLinksSerializer)
    def get_links(self, obj) -> dict[str, str]:
        base = f"/api/v1/definitions/{obj.key}/versions/{obj.version}"
        return {"self": base + "/", "diagram": base + "/diagram.svg"}


class StarterGroupsSerializer(serializers.Serializer):
    key = serializers.CharField(read_only=True)
    groups = serializers.ListField(
        child=serializers.CharField(max_length=150),
        allow_empty=True,
        max_length=500,
        help_text="Group names; empty: only staff with the start permission may start it.",
    )


class VersionEntrySerializer(serializers.Serializer):
    version = serializers.CharField()
    status = serializers.ChoiceField(choices=DefinitionStatus.choices)
    is_latest = serializers.BooleanField()


class DefinitionKeySerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField(allow_blank=True)
    latest_version = serializers.CharField(
        allow_null=True, help_text="The version a start without one uses; null: none published."
    )
    versions = VersionEntrySerializer(many=True, help_text="Newest first.")


class DefinitionKeyListSerializer(serializers.Serializer):
    results = DefinitionKeySerializer(many=True)
    count = serializers.IntegerField()


class DefinitionListQuerySerializer(serializers.Serializer):
    search = serializers.CharField(
        required=False, allow_blank=True, max_length=200, help_text="In key or name."
    )
    status = serializers.ChoiceField(
        choices=DefinitionStatus.choices, required=False, allow_blank=True
    )


class ValidationReportSerializer(serializers.Serializer):
    valid = serializers.BooleanField(help_text="No errors (warnings allowed).")
    key = serializers.CharField(allow_null=True)
    version = serializers.CharField(allow_null=True)
    error_count = serializers.IntegerField()
    warning_count = serializers.IntegerField()
    issues = IssueSerializer(many=True)


# --- instances --------------------------------------------------------------------------------


class StartInstanceSerializer(serializers.Serializer):
    definition = serializers.CharField(max_length=200, help_text="The definition's id (key).")
    version = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        help_text="Default: the latest published version.",
    )
    input = serializers.JSONField(
        required=False, default=dict, help_text="The workflow's input (a JSON object)."
    )
    businessKey = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )


class PendingActionSerializer(serializers.Serializer):
    state = serializers.CharField(required=False)
    action = serializers.CharField(required=False, allow_blank=True)
    function = serializers.CharField(required=False, allow_blank=True)
    since = serializers.CharField(required=False, help_text="When it started (ISO 8601).")


class InstanceErrorSerializer(serializers.Serializer):
    type = serializers.CharField(required=False, help_text="The error's name or code.")
    message = serializers.CharField(required=False, allow_blank=True)
    state = serializers.CharField(required=False, allow_null=True)


class InstanceSerializer(serializers.ModelSerializer):
    definition = serializers.CharField(source="definition_key", read_only=True)
    businessKey = serializers.CharField(source="business_key", read_only=True)
    status = serializers.ChoiceField(choices=InstanceStatus.choices, read_only=True)
    current_states = serializers.ListField(child=serializers.CharField(), read_only=True)
    visited_states = serializers.ListField(child=serializers.CharField(), read_only=True)
    pending_actions = PendingActionSerializer(
        many=True, read_only=True, help_text="Actions in flight while the instance runs."
    )
    error = serializers.SerializerMethodField(help_text="Why it failed; null unless it did.")
    started_by = serializers.CharField(
        source="started_by.username", default=None, allow_null=True, read_only=True
    )
    parent = serializers.UUIDField(source="parent_id", allow_null=True, read_only=True)
    restarted_from = serializers.UUIDField(
        source="restarted_from_id", allow_null=True, read_only=True
    )

    class Meta:
        model = WorkflowInstance
        fields = [
            "id",
            "definition",
            "version",
            "businessKey",
            "status",
            "current_states",
            "visited_states",
            "pending_actions",
            "error",
            "parent",
            "restarted_from",
            "started_by",
            "created_at",
            "updated_at",
            "ended_at",
        ]
        read_only_fields = fields

    @extend_schema_field(InstanceErrorSerializer(allow_null=True))
    def get_error(self, obj):
        return obj.error

    def to_representation(self, instance):
        data = super().to_representation(instance)
        masker = self.context.get("masker") or InstanceMasker()
        for name in ("input", "output", "error"):
            if name in data:
                data[name] = masker.mask(instance, data[name])
        return data


class ChildInstanceSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    definition = serializers.CharField(source="definition_key")
    version = serializers.CharField()
    status = serializers.ChoiceField(choices=InstanceStatus.choices)


class InstanceDetailSerializer(InstanceSerializer):
    input = serializers.JSONField(read_only=True, allow_null=True, help_text="Secrets masked.")
    output = serializers.JSONField(
        read_only=True, allow_null=True, help_text="Null until it completes; secrets masked."
    )
    children = ChildInstanceSerializer(many=True, read_only=True, help_text="Subflows.")
    actions = serializers.SerializerMethodField(
        help_text="What you may do with this instance now (cancel, terminate, retry, restart)."
    )

    class Meta(InstanceSerializer.Meta):
        fields = [
            *InstanceSerializer.Meta.fields,
            "input",
            "output",
            "children",
            "actions",
            "workflow_id",
            "run_id",
        ]
        read_only_fields = fields

    @extend_schema_field(
        serializers.ListField(
            child=serializers.ChoiceField(choices=["cancel", "terminate", "retry", "restart"])
        )
    )
    def get_actions(self, obj) -> list[str]:
        request = self.context.get("request")
        return available_actions(obj, request.user) if request else []


class TimelineEntrySerializer(serializers.ModelSerializer):
    kind = serializers.CharField(source="event_type", help_text="e.g. started, state_entered.")
    actor = serializers.CharField(source="actor.username", default=None, allow_null=True)
    time = serializers.SerializerMethodField()
    text = serializers.SerializerMethodField()
    details = serializers.JSONField(help_text="What happened, as the engine reported it.")

    class Meta:
        model = InstanceEvent
        fields = ["seq", "kind", "state", "time", "actor", "text", "details"]
        read_only_fields = fields

    @extend_schema_field(serializers.DateTimeField())
    def get_time(self, obj) -> str:
        return (obj.occurred_at or obj.created_at).isoformat()

    def get_text(self, obj) -> str:
        from apps.workflows.selectors import describe_timeline_entry

        return describe_timeline_entry(obj)

    def to_representation(self, obj):
        data = super().to_representation(obj)
        masker = self.context.get("masker") or InstanceMasker()
        instance = self.context.get("instance") or obj.instance
        data["text"] = masker.mask(instance, data["text"])
        data["details"] = masker.mask(instance, data["details"])
        return data


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=1000, default="")


# --- secrets and events -----------------------------------------------------------------------


SECRET_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class SecretSerializer(serializers.ModelSerializer):
    # Declared (not derived from the model) so the schema carries the pattern; no unique
    # validator: setting an existing name replaces its value.
    name = serializers.RegexField(
        SECRET_NAME,
        max_length=200,
        error_messages={
            "invalid": "Use letters, digits and underscores, not starting with a digit."
        },
    )
    value = serializers.JSONField(write_only=True, help_text="Any JSON value; never returned.")

    class Meta:
        model = Secret
        fields = ["name", "value", "description", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]

    def validate_name(self, value: str) -> str:
        if not re.fullmatch(SECRET_NAME[1:-1], value):  # `$` would let a final newline pass
            raise serializers.ValidationError(self.fields["name"].error_messages["invalid"])
        return value


class CloudEventSerializer(serializers.Serializer):
    """A CloudEvent 1.0 in structured JSON; extension attributes (for correlation) pass.

    Documents the body; the ingress checks it with apps.workflows.eventcodec (all modes)."""

    specversion = serializers.ChoiceField(choices=["1.0"], required=False, default="1.0")
    id = serializers.CharField(max_length=200)
    source = serializers.CharField(max_length=500)
    type = serializers.CharField(max_length=300)
    subject = serializers.CharField(required=False, max_length=500)
    time = serializers.DateTimeField(required=False)
    datacontenttype = serializers.CharField(required=False, max_length=200)
    dataschema = serializers.CharField(required=False, max_length=500)
    data = serializers.JSONField(required=False, allow_null=True)


class EventAcceptedSerializer(serializers.Serializer):
    """Where the accepted event was written; the bridge routes it from there."""

    id = serializers.CharField()
    source = serializers.CharField()
    type = serializers.CharField()
    topic = serializers.CharField(help_text="The Kafka topic the bridge consumes.")
    partition = serializers.IntegerField()
    offset = serializers.IntegerField()
