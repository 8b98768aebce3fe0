"""Serializers of the workflows API: they validate and shape data; services do the work."""

from __future__ import annotations

from rest_framework import serializers

from apps.workflows.masking import InstanceMasker
from apps.workflows.models import (
    InstanceEvent,
    Secret,
    WorkflowDefinition,
    WorkflowInstance,
)
from apps.workflows.permissions import available_actions


class IssueSerializer(serializers.Serializer):
    path = serializers.CharField()
    code = serializers.CharField()
    message = serializers.CharField()
    severity = serializers.CharField()


class DefinitionUploadSerializer(serializers.Serializer):
    """Either `source` (JSON or YAML text) or `definition` (the document as a JSON object)."""

    source = serializers.CharField(required=False, trim_whitespace=False, allow_blank=False)
    definition = serializers.DictField(required=False)
    publish = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs):
        if bool(attrs.get("source")) == bool(attrs.get("definition")):
            raise serializers.ValidationError(
                "Send the definition either as 'source' (JSON or YAML text) or as 'definition' "
                "(a JSON object), not both and not neither."
            )
        return attrs


class DefinitionVersionSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username", default=None, read_only=True)
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

    def get_links(self, obj) -> dict[str, str]:
        base = f"/api/v1/definitions/{obj.key}/versions/{obj.version}"
        return {
            "self": base + "/",
            "diagram": base + "/diagram.svg",
            "export_json": base + "/export?format=json",
            "export_yaml": base + "/export?format=yaml",
            "publish": base + "/publish",
        }


class DefinitionSummarySerializer(serializers.ModelSerializer):
    """What a user who may start a definition sees of it: no source, document or issues."""

    links = serializers.SerializerMethodField()

    class Meta:
        model = WorkflowDefinition
        fields = ["key", "version", "name", "description", "status", "is_latest", "links"]

    def get_links(self, obj) -> dict[str, str]:
        base = f"/api/v1/definitions/{obj.key}/versions/{obj.version}"
        return {"self": base + "/", "diagram": base + "/diagram.svg"}


class StarterGroupsSerializer(serializers.Serializer):
    key = serializers.CharField(read_only=True)
    groups = serializers.ListField(
        child=serializers.CharField(max_length=150),
        allow_empty=True,
        help_text="Group names; empty: only staff with the start permission may start it.",
    )


class DefinitionDetailSerializer(DefinitionVersionSerializer):
    class Meta(DefinitionVersionSerializer.Meta):
        fields = [*DefinitionVersionSerializer.Meta.fields, "source_format", "source", "document"]


class DefinitionKeySerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    latest_version = serializers.CharField(allow_null=True)
    versions = serializers.ListField(child=serializers.DictField())


class ValidationReportSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    key = serializers.CharField(allow_null=True)
    version = serializers.CharField(allow_null=True)
    error_count = serializers.IntegerField()
    warning_count = serializers.IntegerField()
    issues = IssueSerializer(many=True)


class StartInstanceSerializer(serializers.Serializer):
    definition = serializers.CharField(max_length=200, help_text="The definition's id (key).")
    version = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        help_text="Default: the latest published version.",
    )
    input = serializers.JSONField(required=False, default=dict)
    businessKey = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )


class InstanceSerializer(serializers.ModelSerializer):
    definition = serializers.CharField(source="definition_key", read_only=True)
    businessKey = serializers.CharField(source="business_key", read_only=True)
    started_by = serializers.CharField(source="started_by.username", default=None, read_only=True)
    parent = serializers.UUIDField(source="parent_id", read_only=True)
    restarted_from = serializers.UUIDField(source="restarted_from_id", read_only=True)

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

    def to_representation(self, instance):
        data = super().to_representation(instance)
        masker = self.context.get("masker") or InstanceMasker()
        for name in ("input", "output", "error"):
            if name in data:
                data[name] = masker.mask(instance, data[name])
        return data


class InstanceDetailSerializer(InstanceSerializer):
    children = serializers.SerializerMethodField()
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

    def get_actions(self, obj) -> list[str]:
        request = self.context.get("request")
        return available_actions(obj, request.user) if request else []

    def get_children(self, obj) -> list[dict]:
        return [
            {
                "id": str(c.id),
                "definition": c.definition_key,
                "version": c.version,
                "status": c.status,
            }
            for c in obj.children.all()
        ]


class TimelineEntrySerializer(serializers.ModelSerializer):
    kind = serializers.CharField(source="event_type")
    actor = serializers.CharField(source="actor.username", default=None)
    time = serializers.SerializerMethodField()
    text = serializers.SerializerMethodField()

    class Meta:
        model = InstanceEvent
        fields = ["seq", "kind", "state", "time", "actor", "text", "details"]

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


class SecretSerializer(serializers.ModelSerializer):
    value = serializers.JSONField(write_only=True)

    class Meta:
        model = Secret
        fields = ["name", "value", "description", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        extra_kwargs = {"name": {"validators": []}}

    def validate_name(self, value: str) -> str:
        from apps.workflows.models.secrets import secret_name

        secret_name(value)
        return value


class CloudEventSerializer(serializers.Serializer):
    specversion = serializers.CharField(required=False, default="1.0")
    id = serializers.CharField(max_length=200)
    source = serializers.CharField(max_length=500)
    type = serializers.CharField(max_length=300)
    subject = serializers.CharField(required=False)
    time = serializers.CharField(required=False)
    datacontenttype = serializers.CharField(required=False)
    data = serializers.JSONField(required=False, allow_null=True)
