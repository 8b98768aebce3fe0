"""REST API of workflow instances: start, list, inspect and control."""

from __future__ import annotations

import functools

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.core.api.filters import DateTimeFilter
from apps.core.api.schema import error_responses
from apps.core.idempotency import MAX_KEY_LENGTH, idempotency_key, idempotent
from apps.workflows import permissions as perms
from apps.workflows.api import examples
from apps.workflows.api import serializers as s
from apps.workflows.api.views.definitions import svg_response
from apps.workflows.masking import InstanceMasker
from apps.workflows.models import WorkflowInstance
from apps.workflows.services import instances as instance_services


class InstanceFilter(django_filters.FilterSet):
    definition = django_filters.CharFilter(field_name="definition_key")
    version = django_filters.CharFilter()
    status = django_filters.MultipleChoiceFilter(
        choices=WorkflowInstance._meta.get_field("status").choices
    )
    businessKey = django_filters.CharFilter(field_name="business_key")
    created_after = DateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = DateTimeFilter(field_name="created_at", lookup_expr="lt")
    ended_after = DateTimeFilter(field_name="ended_at", lookup_expr="gte")
    ended_before = DateTimeFilter(field_name="ended_at", lookup_expr="lt")
    parent = django_filters.UUIDFilter(field_name="parent_id")

    class Meta:
        model = WorkflowInstance
        fields = []


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description=f"Up to {MAX_KEY_LENGTH} printable ASCII characters. The same key again "
    "answers with the first start's instance (a different body with it: 409).",
)


@extend_schema(tags=["instances"])
class InstanceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Workflow instances: start, list, inspect and control."""

    filterset_class = InstanceFilter
    ordering_fields = ["created_at"]
    lookup_value_regex = "[0-9a-fA-F-]{36}"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return WorkflowInstance.objects.none()
        return perms.visible_instances(self.request.user)

    def get_object(self):
        return perms.access_instance(self.request.user, self.kwargs["pk"])

    def get_serializer_context(self):
        # One masker per request: a list page reads the secrets store once.
        return {**super().get_serializer_context(), "masker": self._masker}

    def get_serializer(self, *args, **kwargs):
        if kwargs.get("many") and args:
            args = (list(args[0]), *args[1:])
            self._masker.prime(args[0])
        return super().get_serializer(*args, **kwargs)

    @functools.cached_property
    def _masker(self) -> InstanceMasker:
        return InstanceMasker()

    def get_serializer_class(self):
        if self.action == "retrieve":
            return s.InstanceDetailSerializer
        if self.action == "create":
            return s.StartInstanceSerializer
        return s.InstanceSerializer

    @extend_schema(summary="Instances you may see, newest first")
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="One instance: status, data, error, subflows, what you may do",
        examples=examples.INSTANCE_RESPONSE,
    )
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        summary="Start an instance",
        request=s.StartInstanceSerializer,
        responses={201: s.InstanceDetailSerializer, **error_responses(404, 409)},
        parameters=[IDEMPOTENCY_KEY],
        examples=[*examples.START_REQUEST, *examples.START_RESPONSE],
        description="The row is written `starting` and its workflow starts once it is "
        "committed. 404: no such definition or version; 409: not published, or the "
        "Idempotency-Key was used with a different body; 400: the input does not match the "
        "definition's dataInputSchema, or a secret or environment variable it reads is missing.",
    )
    def create(self, request):
        start = s.StartInstanceSerializer(data=request.data)
        start.is_valid(raise_exception=True)
        data = start.validated_data
        key = idempotency_key(request)
        perms.require_start(request.user, data["definition"])

        def perform():
            definition = instance_services.resolve_definition(
                data["definition"], data.get("version") or None
            )
            instance = instance_services.do_start_instance(
                definition=definition,
                input=data.get("input"),
                business_key=data.get("businessKey", ""),
                user=request.user,
                # The key names the instance: even a retry that missed the stored answer
                # meets the same row and the same workflow, never a second one.
                instance_id=instance_services.instance_id_for("api", request.user.pk, key)
                if key
                else None,
            )
            return Response({"id": str(instance.pk)}, status=status.HTTP_201_CREATED)

        response = idempotent(request, "instances.start", data, perform)
        if response.status_code == status.HTTP_201_CREATED:
            # Answered after the commit, so the workflow has been started (or the row says
            # `starting` until the reconciler starts it): a replay shows the same instance.
            instance = WorkflowInstance.objects.with_definition().get(pk=response.data["id"])
            response.data = s.InstanceDetailSerializer(instance, context={"request": request}).data
        return response

    @extend_schema(
        summary="The instance's timeline, oldest first",
        responses=s.TimelineEntrySerializer(many=True),
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def timeline(self, request, pk=None):
        instance = self.get_object()
        entries = instance.events.select_related("actor").order_by("created_at", "id")
        context = {**self.get_serializer_context(), "instance": instance}
        return Response(s.TimelineEntrySerializer(entries, many=True, context=context).data)

    @extend_schema(
        summary="The definition drawn with visited, current and failed states (SVG)",
        responses={(200, "image/svg+xml"): OpenApiTypes.STR},
    )
    @action(detail=True, methods=["get"], url_path="diagram.svg")
    def diagram(self, request, pk=None):
        from apps.workflows.dsl.diagram import render_svg

        instance = self.get_object()
        failed = (
            {instance.error.get("state")}
            if isinstance(instance.error, dict) and instance.error.get("state")
            else set()
        )
        return svg_response(
            render_svg(
                instance.definition.document,
                visited=set(instance.visited_states or []),
                current=set(instance.current_states or []),
                failed=failed,
            )
        )

    def _control(self, action: str, service, request, **kwargs):
        instance = self.get_object()
        perms.require_instance_action(instance, request.user, action)
        result = service(instance, user=request.user, **kwargs)
        return Response(
            s.InstanceDetailSerializer(result, context=self.get_serializer_context()).data
        )

    def _reason(self, request) -> str:
        reason = s.ReasonSerializer(data=request.data or {})
        reason.is_valid(raise_exception=True)
        return reason.validated_data["reason"]

    @extend_schema(
        summary="Cancel: the workflow runs its cancellation handling",
        request=s.ReasonSerializer,
        responses={200: s.InstanceDetailSerializer, **error_responses(409, 503)},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        reason = self._reason(request)
        return self._control("cancel", instance_services.do_cancel_instance, request, reason=reason)

    @extend_schema(
        summary="Terminate: stop at once, no workflow code runs any more",
        request=s.ReasonSerializer,
        responses={200: s.InstanceDetailSerializer, **error_responses(409, 503)},
    )
    @action(detail=True, methods=["post"])
    def terminate(self, request, pk=None):
        reason = self._reason(request)
        return self._control(
            "terminate", instance_services.do_terminate_instance, request, reason=reason
        )

    @extend_schema(
        summary="Retry a failed instance from the state that failed",
        request=None,
        responses={200: s.InstanceDetailSerializer, **error_responses(409)},
    )
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        return self._control("retry", instance_services.do_retry_instance, request)

    @extend_schema(
        summary="Restart: a new instance of the same version with the same input",
        request=None,
        responses={201: s.InstanceDetailSerializer, **error_responses(409)},
    )
    @action(detail=True, methods=["post"])
    def restart(self, request, pk=None):
        instance = self.get_object()
        perms.require_instance_action(instance, request.user, "restart")
        new = instance_services.do_restart_instance(instance, user=request.user)
        new.refresh_from_db()
        return Response(
            s.InstanceDetailSerializer(new, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )
