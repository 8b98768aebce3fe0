"""REST API of workflow definitions, instances, secrets and the event ingress."""

from __future__ import annotations

import json

import django_filters
import yaml
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, mixins, permissions, status, viewsets
from rest_framework.decorators import action, api_view, permission_classes
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.errors import ServiceError
from apps.core.idempotency import idempotent
from apps.workflows import selectors
from apps.workflows.api import serializers as s
from apps.workflows.api.parsers import DefinitionTextParser
from apps.workflows.models import Secret, WorkflowDefinition, WorkflowInstance
from apps.workflows.services import definitions as definition_services
from apps.workflows.services import events as event_services
from apps.workflows.services import instances as instance_services
from apps.workflows.services import secrets as secret_services


class ReadOrPerm(permissions.BasePermission):
    """Signed-in users read; changes need the model permission named by the view."""

    def has_permission(self, request, view) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        perm = getattr(view, "write_permission", None)
        return perm is None or request.user.has_perm(perm)


def _upload_from_request(request) -> tuple[dict | str, bool]:
    """The definition text or object, and whether to publish, from any accepted body form."""
    publish_param = request.query_params.get("publish", "").lower() in {"1", "true", "yes"}
    data = request.data
    if isinstance(data, str):  # text/yaml or application/yaml body
        return data, publish_param
    if isinstance(data, dict) and "states" in data and "source" not in data:
        return dict(data), publish_param  # the document itself, posted as JSON
    upload = s.DefinitionUploadSerializer(data=data)
    upload.is_valid(raise_exception=True)
    body = upload.validated_data.get("source") or upload.validated_data.get("definition")
    return body, upload.validated_data["publish"] or publish_param


def _definition_or_404(key: str, version: str) -> WorkflowDefinition:
    definition = WorkflowDefinition.objects.filter(key=key, version=version).first()
    if definition is None:
        raise ServiceError(
            f"Definition '{key}' has no version {version}.", code="definition_not_found", status=404
        )
    return definition


@extend_schema(tags=["definitions"])
class DefinitionListView(APIView):
    """List definition keys with their versions; upload a new definition version."""

    permission_classes = [ReadOrPerm]
    write_permission = "workflows.add_workflowdefinition"
    parser_classes = [JSONParser, DefinitionTextParser]

    @extend_schema(
        parameters=[
            OpenApiParameter("search", str, description="in key or name"),
            OpenApiParameter("status", str, enum=["draft", "published", "archived"]),
        ],
        responses=s.DefinitionKeySerializer(many=True),
    )
    def get(self, request):
        rows = selectors.definition_keys(
            search=request.query_params.get("search", ""),
            status=request.query_params.get("status", ""),
        )
        return Response({"results": rows, "count": len(rows)})

    @extend_schema(
        request=s.DefinitionUploadSerializer,
        responses={201: s.DefinitionDetailSerializer, 200: s.DefinitionDetailSerializer},
        parameters=[OpenApiParameter("publish", bool, description="publish at once")],
        description="Body: {'source': '<JSON or YAML text>'} or {'definition': {...}}, the "
        "document itself as JSON, or YAML text with Content-Type application/yaml. A document "
        "with errors is saved as a draft (its issues listed) unless publishing was asked.",
    )
    def post(self, request):
        body, publish = _upload_from_request(request)
        definition, created = definition_services.do_save_definition(
            source=body, user=request.user, publish=publish
        )
        return Response(
            s.DefinitionDetailSerializer(definition).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


@extend_schema(tags=["definitions"])
class DefinitionValidateView(APIView):
    """Validate a definition without saving it."""

    permission_classes = [permissions.IsAuthenticated]
    parser_classes = [JSONParser, DefinitionTextParser]

    @extend_schema(request=s.DefinitionUploadSerializer, responses=s.ValidationReportSerializer)
    def post(self, request):
        body, _ = _upload_from_request(request)
        checked = definition_services.check_source(body)
        warnings = [i for i in checked.issues if i.get("severity") == "warning"]
        return Response(
            {
                "valid": not checked.errors,
                "key": checked.key,
                "version": checked.version,
                "error_count": len(checked.errors),
                "warning_count": len(warnings),
                "issues": checked.issues,
            }
        )


@extend_schema(tags=["definitions"], responses=s.DefinitionKeySerializer)
@api_view(["GET"])
def definition_key_detail(request, key: str):
    """One definition key and all its versions."""
    rows = [r for r in selectors.definition_keys() if r["key"] == key]
    if not rows:
        raise ServiceError(
            f"There is no definition '{key}'.", code="definition_not_found", status=404
        )
    return Response(rows[0])


@extend_schema(tags=["definitions"])
class DefinitionVersionView(generics.RetrieveAPIView):
    """One version: its source, parsed document and validation issues."""

    serializer_class = s.DefinitionDetailSerializer

    def get_object(self):
        return _definition_or_404(self.kwargs["key"], self.kwargs["version"])


def _version_action(service, perm: str, summary: str):
    @extend_schema(
        tags=["definitions"], request=None, responses=s.DefinitionDetailSerializer, summary=summary
    )
    @api_view(["POST"])
    def view(request, key: str, version: str):
        if not request.user.has_perm(perm):
            raise ServiceError(
                "You are not allowed to change definitions.", code="permission_denied", status=403
            )
        definition = service(_definition_or_404(key, version), user=request.user)
        return Response(s.DefinitionDetailSerializer(definition).data)

    view.__name__ = service.__name__
    return view


publish_version = _version_action(
    definition_services.do_publish_definition,
    "workflows.change_workflowdefinition",
    "Publish a draft version",
)
archive_version = _version_action(
    definition_services.do_archive_definition,
    "workflows.change_workflowdefinition",
    "Archive a version",
)
mark_latest_version = _version_action(
    definition_services.do_mark_latest,
    "workflows.change_workflowdefinition",
    "Make this published version the latest",
)


@extend_schema(
    tags=["definitions"],
    parameters=[OpenApiParameter("format", str, enum=["json", "yaml"])],
    responses={(200, "application/json"): OpenApiTypes.OBJECT, (200, "application/yaml"): str},
)
@api_view(["GET"])
def export_version(request, key: str, version: str):
    """Download the definition as JSON or YAML."""
    definition = _definition_or_404(key, version)
    fmt = request.query_params.get("format", "json").lower()
    if fmt not in {"json", "yaml"}:
        raise ServiceError("format must be json or yaml.", fields={"format": ["json or yaml"]})
    if fmt == "json":
        text, ctype = (
            json.dumps(definition.document, indent=2, ensure_ascii=False),
            "application/json",
        )
    else:
        text = yaml.safe_dump(definition.document, sort_keys=False, allow_unicode=True)
        ctype = "application/yaml"
    response = HttpResponse(text, content_type=f"{ctype}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{key}-{version}.{fmt}"'
    return response


def _svg_response(svg: str) -> HttpResponse:
    response = HttpResponse(svg, content_type="image/svg+xml; charset=utf-8")
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@extend_schema(tags=["definitions"], responses={(200, "image/svg+xml"): str})
@api_view(["GET"])
def version_diagram(request, key: str, version: str):
    """The definition drawn as states and transitions (SVG)."""
    from apps.workflows.dsl.diagram import render_svg

    return _svg_response(render_svg(_definition_or_404(key, version).document))


class InstanceFilter(django_filters.FilterSet):
    definition = django_filters.CharFilter(field_name="definition_key")
    version = django_filters.CharFilter()
    status = django_filters.MultipleChoiceFilter(
        choices=WorkflowInstance._meta.get_field("status").choices
    )
    businessKey = django_filters.CharFilter(field_name="business_key")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    ended_after = django_filters.IsoDateTimeFilter(field_name="ended_at", lookup_expr="gte")
    ended_before = django_filters.IsoDateTimeFilter(field_name="ended_at", lookup_expr="lt")
    parent = django_filters.UUIDFilter(field_name="parent_id")

    class Meta:
        model = WorkflowInstance
        fields = []


@extend_schema(tags=["instances"])
class InstanceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Workflow instances: start, list, inspect and control."""

    filterset_class = InstanceFilter
    ordering_fields = ["created_at"]
    lookup_value_regex = "[0-9a-fA-F-]{36}"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return WorkflowInstance.objects.none()
        return selectors.instances_for(self.request.user)

    def get_serializer_class(self):
        if self.action == "retrieve":
            return s.InstanceDetailSerializer
        if self.action == "create":
            return s.StartInstanceSerializer
        return s.InstanceSerializer

    def _require(self, perm: str, what: str) -> None:
        if not self.request.user.has_perm(perm):
            raise ServiceError(
                f"You are not allowed to {what}.", code="permission_denied", status=403
            )

    @extend_schema(
        request=s.StartInstanceSerializer,
        responses={201: s.InstanceDetailSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)],
    )
    def create(self, request):
        self._require("workflows.add_workflowinstance", "start instances")
        start = s.StartInstanceSerializer(data=request.data)
        start.is_valid(raise_exception=True)
        data = start.validated_data

        key = request.META.get("HTTP_IDEMPOTENCY_KEY", "").strip()

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
            response.data = s.InstanceDetailSerializer(instance).data
        return response

    @extend_schema(responses=s.TimelineEntrySerializer(many=True))
    @action(detail=True, methods=["get"])
    def timeline(self, request, pk=None):
        instance = self.get_object()
        entries = instance.events.select_related("actor").order_by("created_at", "id")
        return Response(s.TimelineEntrySerializer(entries, many=True).data)

    @extend_schema(responses={(200, "image/svg+xml"): str})
    @action(detail=True, methods=["get"], url_path="diagram.svg")
    def diagram(self, request, pk=None):
        from apps.workflows.dsl.diagram import render_svg

        instance = self.get_object()
        failed = (
            {instance.error.get("state")}
            if instance.error and instance.error.get("state")
            else set()
        )
        return _svg_response(
            render_svg(
                instance.definition.document,
                visited=set(instance.visited_states or []),
                current=set(instance.current_states or []),
                failed=failed,
            )
        )

    def _control(self, service, perm: str, what: str, request, **kwargs):
        self._require(perm, what)
        instance = self.get_object()
        result = service(instance, user=request.user, **kwargs)
        return Response(s.InstanceDetailSerializer(result).data)

    @extend_schema(request=s.ReasonSerializer, responses=s.InstanceDetailSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        reason = s.ReasonSerializer(data=request.data or {})
        reason.is_valid(raise_exception=True)
        return self._control(
            instance_services.do_cancel_instance,
            "workflows.change_workflowinstance",
            "cancel instances",
            request,
            reason=reason.validated_data["reason"],
        )

    @extend_schema(request=s.ReasonSerializer, responses=s.InstanceDetailSerializer)
    @action(detail=True, methods=["post"])
    def terminate(self, request, pk=None):
        reason = s.ReasonSerializer(data=request.data or {})
        reason.is_valid(raise_exception=True)
        return self._control(
            instance_services.do_terminate_instance,
            "workflows.change_workflowinstance",
            "terminate instances",
            request,
            reason=reason.validated_data["reason"],
        )

    @extend_schema(request=None, responses=s.InstanceDetailSerializer)
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        return self._control(
            instance_services.do_retry_instance,
            "workflows.change_workflowinstance",
            "retry instances",
            request,
        )

    @extend_schema(request=None, responses={201: s.InstanceDetailSerializer})
    @action(detail=True, methods=["post"])
    def restart(self, request, pk=None):
        self._require("workflows.add_workflowinstance", "restart instances")
        new = instance_services.do_restart_instance(self.get_object(), user=request.user)
        new.refresh_from_db()
        return Response(s.InstanceDetailSerializer(new).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["secrets"])
class SecretViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Secrets for `$SECRETS`: set and delete; values are never returned."""

    serializer_class = s.SecretSerializer
    queryset = Secret.objects.all()
    lookup_field = "name"
    permission_classes = [permissions.IsAdminUser]

    def create(self, request):
        data = s.SecretSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        secret = secret_services.do_set_secret(
            name=data.validated_data["name"],
            value=data.validated_data["value"],
            description=data.validated_data.get("description", ""),
            user=request.user,
        )
        return Response(s.SecretSerializer(secret).data, status=status.HTTP_201_CREATED)

    def destroy(self, request, name=None):
        secret_services.do_delete_secret(name=name, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["events"], request=s.CloudEventSerializer, responses=OpenApiTypes.OBJECT)
@api_view(["POST"])
@permission_classes([permissions.IsAuthenticated])
def ingest_event(request):
    """HTTP ingress for one CloudEvent (structured JSON): start or wake matching instances."""
    if not request.user.has_perm("workflows.add_inboundevent"):
        raise ServiceError(
            "You are not allowed to send events.", code="permission_denied", status=403
        )
    result = event_services.deliver_event(request.data, user=request.user)
    return Response(result.as_dict(), status=status.HTTP_202_ACCEPTED)


def get_instance_or_404(pk) -> WorkflowInstance:
    return get_object_or_404(WorkflowInstance, pk=pk)
