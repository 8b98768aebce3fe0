"""Serializers of the tasks API: they validate and shape; the services decide.

Field names follow the usertask contract (taskKey, candidateUsers, dueDate...), as the
definitions that make the tasks spell them.
"""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from apps.files.models import StoredFile
from apps.tasks.keyset import ORDERINGS
from apps.tasks.lifecycle import TaskAction, TaskStatus
from apps.tasks.models import TaskComment, TaskEvent, UserTask
from apps.tasks.selectors import VIEWS


def _username(user) -> str | None:
    return user.get_username() if user is not None else None


def _when(value) -> str | None:
    """A datetime as DRF writes it (ISO 8601 in the current zone, UTC as Z)."""
    if value is None:
        return None
    text = timezone.localtime(value).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


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
        """A list row, built directly: DRF's field-by-field path costs more than the query
        for a page of 50 (the fields above are its schema; a test keeps the two equal)."""
        t, now = instance, timezone.now()
        return {
            "id": str(t.pk),
            "title": t.title,
            "taskKey": t.task_key,
            "state": t.state_name,
            "status": t.status,
            "priority": t.priority,
            "dueDate": _when(t.due_at),
            "followUpDate": _when(t.follow_up_at),
            "overdue": bool(t.due_at and t.due_at < now and t.is_open),
            "assignee": _username(t.assignee) if t.assignee_id else None,
            "owner": _username(t.owner) if t.owner_id else None,
            "candidateUsers": list(t.candidate_users or []),
            "candidateGroups": list(t.candidate_groups or []),
            "instance": t.instance_key or None,
            "definition": t.definition_key or None,
            "version": t.definition_version or None,
            "form": t.form or None,
            "outcome": t.outcome or None,
            "createdAt": _when(t.created_at),
            "claimedAt": _when(t.claimed_at),
            "completedAt": _when(t.completed_at),
        }


class TaskStateSerializer(TaskSerializer):
    """What an action answers: the task's row as it now is, and what the caller may do next
    (GET the task for its data and history)."""

    allowedActions = serializers.SerializerMethodField()

    class Meta(TaskSerializer.Meta):
        fields = [*TaskSerializer.Meta.fields, "allowedActions"]

    @extend_schema_field(
        serializers.ListField(child=serializers.ChoiceField(choices=TaskAction.choices))
    )
    def get_allowedActions(self, obj) -> list[str]:  # noqa: N802
        from apps.tasks.permissions import available_actions

        return available_actions(obj, self.context["request"].user)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["allowedActions"] = self.get_allowedActions(instance)
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
    """A file attached to the task (the files app's file: `GET /api/v1/files/{fileId}`)."""

    fileId = serializers.UUIDField(source="id")
    contentType = serializers.CharField(source="content_type")
    uploadedBy = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at")
    download = serializers.SerializerMethodField(help_text="Where its content is downloaded.")

    class Meta:
        model = StoredFile
        fields = [
            "fileId",
            "name",
            "contentType",
            "size",
            "sha256",
            "uploadedBy",
            "createdAt",
            "download",
        ]

    def get_uploadedBy(self, obj) -> str | None:  # noqa: N802 - the field's API name
        return _username(obj.owner)

    def get_download(self, obj) -> str:
        path = reverse("api:file-content", args=[obj.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


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

    def to_representation(self, instance):
        data = serializers.ModelSerializer.to_representation(self, instance)
        for key in ("instance", "definition", "version", "outcome"):
            data[key] = data[key] or None
        return data

    def get_completedBy(self, obj) -> str | None:  # noqa: N802
        return _username(obj.completed_by)

    def get_formSchema(self, obj) -> dict | None:  # noqa: N802
        from apps.tasks.forms_link import form_schema

        return form_schema(obj)

    @extend_schema_field(
        serializers.ListField(child=serializers.ChoiceField(choices=TaskAction.choices))
    )
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
    ordering = serializers.ChoiceField(
        choices=list(ORDERINGS),
        required=False,
        help_text="-priority (default: highest first, then newest), -created, created, due "
        "(no due date last), -completed (default of view=completed).",
    )
    cursor = serializers.CharField(required=False, help_text="From the previous page's `next`.")
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=200, default=50)

    def validate_status(self, value: str) -> list[str]:
        values = [v.strip() for v in value.split(",") if v.strip()]
        unknown = [v for v in values if v not in TaskStatus.values]
        if unknown:
            raise serializers.ValidationError(
                f"unknown status {', '.join(unknown)}; known: {', '.join(TaskStatus.values)}"
            )
        return values


@extend_schema_serializer(many=False)  # the list's answer is one page object, not an array
class TaskPageSerializer(serializers.Serializer):
    next = serializers.URLField(
        allow_null=True, help_text="The next page (same filters and ordering); null at the end."
    )
    results = TaskSerializer(many=True)


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
