"""REST API of user tasks: the inbox lists, one task, and what people do to it."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from apps.core.api.schema import error_responses
from apps.core.idempotency import idempotent
from apps.files.api.serializers import AttachSerializer
from apps.files.api.upload import FileUploadParser, UploadViewMixin, uploaded_file
from apps.files.services import do_upload_file
from apps.tasks import selectors, services
from apps.tasks.api import serializers as s
from apps.tasks.models import UserTask
from apps.tasks.permissions import access_task
from apps.tasks.selectors import TaskFilters

_STATE = OpenApiResponse(
    s.TaskStateSerializer,
    description="The task as it now is, with what the caller may do next.",
)


def _action_schema(request_serializer, summary: str, description: str = "", **extra):
    # 400/401/403/404 (and 413/415 with a body) are added by the platform's AutoSchema; a
    # task's status refusing the action (409) only the code knows.
    return extend_schema(
        request=request_serializer,
        responses={200: _STATE, **error_responses(409)},
        summary=summary,
        description=description,
        **extra,
    )


@extend_schema(tags=["tasks"])
class TaskViewSet(UploadViewMixin, viewsets.GenericViewSet):
    """User tasks: the caller's inbox lists, one task, and the actions on it."""

    serializer_class = s.TaskSerializer
    pagination_class = None  # keyset pages of the selectors (apps/tasks/keyset.py)
    filter_backends: list = []  # filters and ordering are the selectors'
    lookup_value_regex = "[0-9a-fA-F-]{36}"
    upload_actions = ("attachments",)

    def get_parsers(self):
        if self._upload_request():
            return [FileUploadParser()]
        return super().get_parsers()

    def get_queryset(self):
        return UserTask.objects.none()  # every read goes through the selectors (scoped)

    # Actions hand the services the task's id (`UserTask(pk=pk)`): they lock the row and
    # check, in one place, that the caller sees it (else 404) and may act (else 403/409).

    def _state(self, task: UserTask) -> Response:
        """The task the service returns, as the caller now sees it (after an action they may
        no longer see it at all: they still get the result of what they did)."""
        return Response(s.TaskStateSerializer(task, context={"request": self.request}).data)

    @extend_schema(
        parameters=[s.TaskQuerySerializer],
        responses={200: s.TaskPageSerializer},
        summary="List the caller's tasks",
        description="view=mine (open, assigned to me; delegated to me included), queue "
        "(unassigned, I may claim), delegated (I own them, delegated to someone), completed "
        "(completed by me), all (every task I may see; operators: all tasks).",
    )
    def list(self, request):
        query = s.TaskQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        filters = TaskFilters(
            instance=str(q["instance"]) if q.get("instance") else None,
            definition=q.get("definition"),
            status=q.get("status"),
            priority_min=q.get("priority_min"),
            priority_max=q.get("priority_max"),
            due_after=q.get("due_after"),
            due_before=q.get("due_before"),
            overdue=q.get("overdue", False),
            title=q.get("title"),
        )
        page = selectors.task_page(
            request.user,
            q["view"],
            filters,
            ordering=q.get("ordering"),
            cursor=q.get("cursor"),
            size=q["page_size"],
        )
        link = None
        if page.next_cursor:
            link = replace_query_param(request.build_absolute_uri(), "cursor", page.next_cursor)
        return Response({"next": link, "results": s.TaskSerializer(page.rows, many=True).data})

    @extend_schema(
        responses={200: s.TaskDetailSerializer},
        summary="One task, with its form schema and what the caller may do now",
    )
    def retrieve(self, request, pk=None):
        task = selectors.task_detail(request.user, pk)
        return Response(s.TaskDetailSerializer(task, context={"request": request}).data)

    @extend_schema(
        parameters=[OpenApiParameter("reason", str, description="Recorded in the audit trail.")],
        responses={204: None, **error_responses(409)},
        summary="Delete an open task (operators): its process takes onTaskDeleted",
    )
    def destroy(self, request, pk=None):
        task = UserTask(pk=pk)
        services.do_delete_task(
            task, user=request.user, reason=request.query_params.get("reason", "")[:1000]
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @_action_schema(None, "Claim an unassigned task (candidates)")
    @action(detail=True, methods=["post"])
    def claim(self, request, pk=None):
        task = services.do_claim_task(UserTask(pk=pk), user=request.user)
        return self._state(task)

    @_action_schema(None, "Put the task back in the queue (its assignee, or a manager)")
    @action(detail=True, methods=["post"])
    def unclaim(self, request, pk=None):
        task = services.do_unclaim_task(UserTask(pk=pk), user=request.user)
        return self._state(task)

    @_action_schema(s.AssignSerializer, "Assign or reassign the task (managers)")
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        body = s.AssignSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        task = UserTask(pk=pk)
        name = body.validated_data["assignee"]
        assignee = services.user_by_name(name) if name else None
        return self._state(services.do_assign_task(task, user=request.user, assignee=assignee))

    @_action_schema(
        s.DelegateSerializer,
        "Delegate the task (its assignee); the delegate resolves it back",
    )
    @action(detail=True, methods=["post"])
    def delegate(self, request, pk=None):
        body = s.DelegateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        task = UserTask(pk=pk)
        delegate = services.user_by_name(body.validated_data["delegate"], field="delegate")
        return self._state(services.do_delegate_task(task, user=request.user, delegate=delegate))

    @_action_schema(None, "Hand a delegated task back to its owner (the delegate)")
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        task = services.do_resolve_task(UserTask(pk=pk), user=request.user)
        return self._state(task)

    @_action_schema(s.DraftSerializer, "Save unfinished form data (the assignee)")
    @action(detail=True, methods=["post"])
    def draft(self, request, pk=None):
        body = s.DraftSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        task = services.do_save_draft(
            UserTask(pk=pk),
            user=request.user,
            data=body.validated_data["data"],
            follow_up_at=body.validated_data.get("followUpDate"),
        )
        return self._state(task)

    @_action_schema(
        s.CompleteSerializer,
        "Complete the task with an outcome and data (the assignee)",
        "The outcome must be one of the task's; the data must fit its form. The process "
        "resumes exactly once. A repeated request with the same Idempotency-Key gets the first "
        "answer (header Idempotent-Replayed: true); the same key with another body is a 409.",
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)],
    )
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        body = s.CompleteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        outcome = body.validated_data.get("outcome")
        data = body.validated_data.get("data")

        def perform() -> Response:
            task = services.do_complete_task(
                UserTask(pk=pk), user=request.user, outcome=outcome, data=data
            )
            return self._state(task)

        payload = {"task": str(pk), "outcome": outcome, "data": data}
        return idempotent(request, "tasks.complete", payload, perform)

    @extend_schema(
        request=s.CommentCreateSerializer,
        responses={201: s.CommentSerializer},
        summary="Write a comment (anyone with a part in the task)",
    )
    @action(detail=True, methods=["post"])
    def comments(self, request, pk=None):
        body = s.CommentCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        task = UserTask(pk=pk)
        comment = services.do_comment_task(
            task, user=request.user, text=body.validated_data["text"]
        )
        return Response(s.CommentSerializer(comment).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request={"multipart/form-data": AttachSerializer},
        responses={201: s.AttachmentSerializer, **error_responses(409, 503)},
        summary="Attach a file (multipart/form-data, part `file`)",
        description="Who: the assignee, the owner of a delegated task, a candidate while the "
        "task is unassigned, operators (tasks.delete_usertask); while the task is open (409 "
        "once it is closed). The file is stored by the files app (`GET /api/v1/files/{id}`), "
        "linked to the task and its instance, and the task's history says so. 400: no `file` "
        "part, or an empty file; 413: too large; 415: a refused type.",
    )
    @action(detail=True, methods=["post"])
    def attachments(self, request, pk=None):
        task = access_task(request.user, pk)  # 404 before a byte is stored
        stored = do_upload_file(user=request.user, upload=uploaded_file(request), task=task)
        data = s.AttachmentSerializer(stored, context={"request": request}).data
        return Response(data, status=status.HTTP_201_CREATED)
