"""Serializers of the tasks API: they validate and shape; the services decide.

Field names follow the usertask contract (taskKey, candidateUsers, dueDate...), as the
definitions that make the tasks spell them.
"""

from __future__ import annotations

from django.utils import timezone
from rest_framework import serializers

from apps.tasks.lifecycle import TaskAction, TaskStatus
from apps.tasks.models import TaskAttachment, TaskComment, TaskEvent, UserTask
from apps.tasks.selectors import VIEWS


def _username(user) -> str | None:
    return user.get_username() if user is not None else None


class TaskSerializer(serializers.ModelSerializer):
    """A row of an inbox list."""

    taskKey = serializers.CharField(source="task_key")
    state = serializers.CharField(source="state_name")
    assignee = serializers.SerializerMethodField()
    owner = serializers.SerializerMethodField()
    candidateUsers = serializers.ListField(child=serializers.CharField(), source="candidate_users")
    candidateGroups = serializers.ListField(
        child=serializers.CharField(), source="candidate_groups"
    )
    dueDate = serializers.DateTimeField(source="due_at", allow_null=True)
    followUpDate = serializers.DateTimeField(source="follow_up_at", allow_null=True)
    overdue = serializers.SerializerMethodField()
    instance = serializers.CharField(source="instance_key", allow_null=True)
    definition = serializers.CharField(source="definition_key", allow_null=True)
    version = serializers.CharField(source="definition_version", allow_null=True)
    form = serializers.SerializerMethodField()
    outcome = serializers.CharField(allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")
    claimedAt = serializers.DateTimeField(source="claimed_at", allow_null=True)
    completedAt = serializers.DateTimeField(source="completed_at", allow_null=True)

    class Meta:
        model = UserTask
        fields = [
            "id",
            "title",
            "taskKey",
            "state",
            "status",
            "priority",
            "dueDate",
            "followUpDate",
            "overdue",
            "assignee",
            "owner",
            "candidateUsers",
            "candidateGroups",
            "instance",
            "definition",
            "version",
            "form",
            "outcome",
            "createdAt",
            "claimedAt",
            "completedAt",
        ]

    def get_assignee(self, obj) -> str | None:
        return _username(obj.assignee)

    def get_owner(self, obj) -> str | None:
        return _username(obj.owner)

    def get_overdue(self, obj) -> bool:
        return bool(obj.is_open and obj.due_at and obj.due_at < timezone.now())

    def get_form(self, obj) -> str | None:
        return obj.form or None

    def to_representation(self, instance):
        data = super().to_representation(instance)
        for key in ("instance", "definition", "version", "outcome"):
            data[key] = data[key] or None
        return data


class CommentSerializer(serializers.ModelSerializer):
    author = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at")

    class Meta:
        model = TaskComment
        fields = ["id", "author", "text", "createdAt"]

    def get_author(self, obj) -> str | None:
        return _username(obj.author)


class AttachmentSerializer(serializers.ModelSerializer):
    fileId = serializers.UUIDField(source="file_id")
    contentType = serializers.CharField(source="content_type")
    uploadedBy = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at")

    class Meta:
        model = TaskAttachment
        fields = ["fileId", "name", "contentType", "size", "sha256", "uploadedBy", "createdAt"]

    def get_uploadedBy(self, obj) -> str | None:  # noqa: N802 - the field's API name
        return _username(obj.uploaded_by)


class HistorySerializer(serializers.ModelSerializer):
    kind = serializers.CharField(source="event_type")
    actor = serializers.SerializerMethodField()
    time = serializers.DateTimeField(source="created_at")
    text = serializers.SerializerMethodField()

    class Meta:
        model = TaskEvent
        fields = ["kind", "actor", "time", "text", "details"]

    def get_actor(self, obj) -> str | None:
        return _username(obj.actor)

    def get_text(self, obj) -> str:
        from apps.tasks.services.audit import describe

        return describe(obj)


class OutcomeSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()


class TaskDetailSerializer(TaskSerializer):
    """One task: its data, outcomes, form, history and what the caller may do now."""

    input = serializers.JSONField()
    draft = serializers.JSONField()
    output = serializers.JSONField()
    outcomes = OutcomeSerializer(many=True)
    completedBy = serializers.SerializerMethodField()
    formSchema = serializers.SerializerMethodField(
        help_text="The JSON schema of the task's form; null while the task has none (the "
        "forms app is not there yet)."
    )
    allowedActions = serializers.SerializerMethodField()
    comments = CommentSerializer(many=True)
    attachments = AttachmentSerializer(many=True)
    history = HistorySerializer(many=True, source="events")

    class Meta(TaskSerializer.Meta):
        fields = [
            *TaskSerializer.Meta.fields,
            "completedBy",
            "input",
            "draft",
            "output",
            "outcomes",
            "formSchema",
            "allowedActions",
            "comments",
            "attachments",
            "history",
        ]

    def get_completedBy(self, obj) -> str | None:  # noqa: N802
        return _username(obj.completed_by)

    def get_formSchema(self, obj) -> dict | None:  # noqa: N802
        from apps.tasks.forms_link import form_schema

        return form_schema(obj)

    def get_allowedActions(self, obj) -> list[str]:  # noqa: N802
        from apps.tasks.permissions import available_actions

        return available_actions(obj, self.context["request"].user)


# --- requests ------------------------------------------------------------------------------


class TaskQuerySerializer(serializers.Serializer):
    """The list's query parameters."""

    view = serializers.ChoiceField(choices=VIEWS, default="mine")
    instance = serializers.UUIDField(required=False)
    definition = serializers.CharField(required=False, max_length=200)
    status = serializers.CharField(
        required=False, help_text="One status or several, comma-separated."
    )
    priority_min = serializers.IntegerField(required=False, min_value=0, max_value=100)
    priority_max = serializers.IntegerField(required=False, min_value=0, max_value=100)
    due_after = serializers.DateTimeField(required=False)
    due_before = serializers.DateTimeField(required=False)
    overdue = serializers.BooleanField(required=False, default=False)
    title = serializers.CharField(required=False, max_length=200, help_text="Part of the title.")

    def validate_status(self, value: str) -> list[str]:
        values = [v.strip() for v in value.split(",") if v.strip()]
        unknown = [v for v in values if v not in TaskStatus.values]
        if unknown:
            raise serializers.ValidationError(
                f"unknown status {', '.join(unknown)}; known: {', '.join(TaskStatus.values)}"
            )
        return values


class AssignSerializer(serializers.Serializer):
    assignee = serializers.CharField(
        allow_null=True, help_text="A username; null puts the task back in the queue."
    )


class DelegateSerializer(serializers.Serializer):
    delegate = serializers.CharField(help_text="The username of the person to delegate to.")


class DraftSerializer(serializers.Serializer):
    data = serializers.JSONField(allow_null=True, help_text="The form's fields, as far as filled.")
    followUpDate = serializers.DateTimeField(required=False, allow_null=True)


class CompleteSerializer(serializers.Serializer):
    outcome = serializers.CharField(
        required=False, allow_null=True, help_text="One of the task's outcomes (by name)."
    )
    data = serializers.JSONField(
        required=False, allow_null=True, help_text="The submitted form data (a JSON object)."
    )


class CommentCreateSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=10_000, trim_whitespace=True)


class DeleteSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=1000, default="")


ACTIONS = TaskAction.values
