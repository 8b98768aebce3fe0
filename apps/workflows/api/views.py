"""REST API of workflow definitions, instances, secrets and the event ingress."""

from __future__ import annotations

import functools
import json

import django_filters
import yaml
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, mixins, permissions, status, viewsets
from rest_framework.decorators import action, api_view, permission_classes
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.errors import ServiceError
from apps.core.idempotency import idempotent
from apps.workflows import permissions as perms
from apps.workflows import selectors
from apps.workflows.api import serializers as s
from apps.workflows.api.parsers import DefinitionTextParser
from apps.workflows.masking import InstanceMasker
from apps.workflows.models import Secret, WorkflowDefinition, WorkflowInstance
from apps.workflows.services import access as access_services
from apps.workflows.services import definitions as definition_services
from apps.workflows.services import events as event_services
from apps.workflows.services import instances as instance_services
from apps.workflows.services import secrets as secret_services


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
            perms.visible_definitions(request.user),
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
        perms.require_upload(request.user)
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

    parser_classes = [JSONParser, DefinitionTextParser]

    @extend_schema(request=s.DefinitionUploadSerializer, responses=s.ValidationReportSerializer)
    def post(self, request):
        # Authors' tool: validating fetches the parts a document references, on our network.
        perms.require_upload(request.user)
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
    """One definition key and all its versions (the ones you may see)."""
    rows = selectors.definition_keys(perms.visible_definitions(request.user).filter(key=key))
    if not rows:
        raise ServiceError(
            f"There is no definition '{key}'.", code="definition_not_found", status=404
        )
    return Response(rows[0])


@extend_schema(tags=["definitions"])
class DefinitionVersionView(generics.RetrieveAPIView):
    """One version: its source, parsed document and validation issues (a summary to starters)."""

    serializer_class = s.DefinitionDetailSerializer

    def get_serializer_class(self):
        if perms.can_read_definitions(self.request.user):
            return s.DefinitionDetailSerializer
        return s.DefinitionSummarySerializer

    def get_object(self):
        return perms.access_definition(
            self.request.user, self.kwargs["key"], self.kwargs["version"]
        )


@extend_schema(tags=["definitions"])
class DefinitionStartersView(APIView):
    """The groups whose members may start this definition (every version of it)."""

    @extend_schema(responses=s.StarterGroupsSerializer)
    def get(self, request, key: str):
        perms.require_read_definitions(request.user)
        if not WorkflowDefinition.objects.filter(key=key).exists():
            raise ServiceError(
                f"There is no definition '{key}'.", code="definition_not_found", status=404
            )
        return Response({"key": key, "groups": access_services.starter_group_names(key)})

    @extend_schema(request=s.StarterGroupsSerializer, responses=s.StarterGroupsSerializer)
    def put(self, request, key: str):
        perms.require_change_definitions(request.user)
        body = s.StarterGroupsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        access_services.do_set_starter_groups(
            key=key, groups=body.validated_data["groups"], user=request.user
        )
        return Response({"key": key, "groups": access_services.starter_group_names(key)})


def _version_action(service, summary: str):
    @extend_schema(
        tags=["definitions"], request=None, responses=s.DefinitionDetailSerializer, summary=summary
    )
    @api_view(["POST"])
    def view(request, key: str, version: str):
        perms.require_change_definitions(request.user)
        definition = service(_definition_or_404(key, version), user=request.user)
        return Response(s.DefinitionDetailSerializer(definition).data)

    view.__name__ = service.__name__
    return view


publish_version = _version_action(
    definition_services.do_publish_definition,
    "Publish a draft version",
)
archive_version = _version_action(
    definition_services.do_archive_definition,
    "Archive a version",
)
mark_latest_version = _version_action(
    definition_services.do_mark_latest,
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
    definition = perms.access_definition(request.user, key, version, source=True)
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

    definition = perms.access_definition(request.user, key, version)
    return _svg_response(render_svg(definition.document))


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

    @extend_schema(
        request=s.StartInstanceSerializer,
        responses={201: s.InstanceDetailSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)],
    )
    def create(self, request):
        start = s.StartInstanceSerializer(data=request.data)
        start.is_valid(raise_exception=True)
        data = start.validated_data
        perms.require_start(request.user, data["definition"])

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
            response.data = s.InstanceDetailSerializer(instance, context={"request": request}).data
        return response

    @extend_schema(responses=s.TimelineEntrySerializer(many=True))
    @action(detail=True, methods=["get"])
    def timeline(self, request, pk=None):
        instance = self.get_object()
        entries = instance.events.select_related("actor").order_by("created_at", "id")
        context = {**self.get_serializer_context(), "instance": instance}
        return Response(s.TimelineEntrySerializer(entries, many=True, context=context).data)

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

    def _control(self, action: str, service, request, **kwargs):
        instance = self.get_object()
        perms.require_instance_action(instance, request.user, action)
        result = service(instance, user=request.user, **kwargs)
        return Response(
            s.InstanceDetailSerializer(result, context=self.get_serializer_context()).data
        )

    @extend_schema(request=s.ReasonSerializer, responses=s.InstanceDetailSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        reason = s.ReasonSerializer(data=request.data or {})
        reason.is_valid(raise_exception=True)
        return self._control(
            "cancel",
            instance_services.do_cancel_instance,
            request,
            reason=reason.validated_data["reason"],
        )

    @extend_schema(request=s.ReasonSerializer, responses=s.InstanceDetailSerializer)
    @action(detail=True, methods=["post"])
    def terminate(self, request, pk=None):
        reason = s.ReasonSerializer(data=request.data or {})
        reason.is_valid(raise_exception=True)
        return self._control(
            "terminate",
            instance_services.do_terminate_instance,
            request,
            reason=reason.validated_data["reason"],
        )

    @extend_schema(request=None, responses=s.InstanceDetailSerializer)
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        return self._control(
            "retry",
            instance_services.do_retry_instance,
            request,
        )

    @extend_schema(request=None, responses={201: s.InstanceDetailSerializer})
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

    def list(self, request, *args, **kwargs):
        perms.require_secrets(request.user, "view")
        return super().list(request, *args, **kwargs)

    def create(self, request):
        if not perms.can_manage_secrets(request.user, "change"):
            perms.require_secrets(request.user, "add")
        data = s.SecretSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        exists = Secret.objects.filter(name=data.validated_data["name"]).exists()
        perms.require_secrets(request.user, "change" if exists else "add")
        secret = secret_services.do_set_secret(
            name=data.validated_data["name"],
            value=data.validated_data["value"],
            description=data.validated_data.get("description", ""),
            user=request.user,
        )
        return Response(s.SecretSerializer(secret).data, status=status.HTTP_201_CREATED)

    def destroy(self, request, name=None):
        perms.require_secrets(request.user, "delete")
        secret_services.do_delete_secret(name=name, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["events"], request=s.CloudEventSerializer, responses=OpenApiTypes.OBJECT)
@api_view(["POST"])
@permission_classes([permissions.IsAuthenticated])
def ingest_event(request):
    """HTTP ingress for one CloudEvent (structured JSON): start or wake matching instances."""
    perms.require_send_events(request.user)
    result = event_services.deliver_event(request.data, user=request.user)
    return Response(result.as_dict(), status=status.HTTP_202_ACCEPTED)
