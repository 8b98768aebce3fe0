"""REST API of workflow definitions: upload, validate, versions, starters, export, diagram."""

from __future__ import annotations

import json

import yaml
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.decorators import api_view
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api.schema import AnyOf, error_responses
from apps.core.errors import ServiceError
from apps.workflows import permissions as perms
from apps.workflows import selectors
from apps.workflows.api import examples
from apps.workflows.api import serializers as s
from apps.workflows.api.parsers import DEFINITION_PARSERS, DEFINITION_TEXT_TYPES
from apps.workflows.models import WorkflowDefinition
from apps.workflows.services import access as access_services
from apps.workflows.services import definitions as definition_services

# The document itself, posted as the JSON body (recognised by its `states`).
WORKFLOW_DOCUMENT = {
    "type": "object",
    "description": "A Serverless Workflow 0.8 document as the JSON body itself.",
    "required": ["states"],
    "properties": {
        "id": {"type": "string"},
        "version": {"type": "string"},
        "specVersion": {"type": "string"},
        "states": {"type": "array", "items": {"type": "object"}},
    },
}
DEFINITION_TEXT = {"type": "string", "description": "The definition as YAML or JSON text."}
UPLOAD_REQUEST = {
    "application/json": AnyOf(s.DefinitionUploadSerializer, WORKFLOW_DOCUMENT),
    **{media_type: DEFINITION_TEXT for media_type in DEFINITION_TEXT_TYPES},
}
_TRUE, _FALSE = {"1", "true", "yes"}, {"", "0", "false", "no"}


def _publish_param(request) -> bool:
    value = request.query_params.get("publish", "").lower()
    if value not in _TRUE | _FALSE:
        raise serializers.ValidationError({"publish": ["Use true or false."]})
    return value in _TRUE


def _upload_from_request(request) -> tuple[dict | str, bool]:
    """The definition text or object, and whether to publish, from any accepted body form."""
    publish_param = _publish_param(request)
    data = request.data
    if isinstance(data, str):  # a YAML or text body
        return data, publish_param
    if isinstance(data, dict) and "states" in data and not {"source", "definition"} & set(data):
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

    parser_classes = DEFINITION_PARSERS

    @extend_schema(
        summary="Definition keys with their versions",
        operation_id="v1_definitions_list",
        parameters=[s.DefinitionListQuerySerializer],
        responses=s.DefinitionKeyListSerializer,
    )
    def get(self, request):
        query = s.DefinitionListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = selectors.definition_keys(
            perms.visible_definitions(request.user),
            search=query.validated_data.get("search", ""),
            status=query.validated_data.get("status", ""),
        )
        return Response({"results": rows, "count": len(rows)})

    @extend_schema(
        summary="Upload a definition version",
        request=UPLOAD_REQUEST,
        responses={
            201: s.DefinitionDetailSerializer,
            200: s.DefinitionDetailSerializer,
            **error_responses(409),
        },
        parameters=[OpenApiParameter("publish", bool, description="Publish at once.")],
        examples=examples.UPLOAD_REQUEST,
        description="The body is the definition as YAML text (`application/yaml`, "
        "`text/yaml`...), the document itself as JSON, or `{'source': text}` / "
        "`{'definition': {...}}`; at most 1 MiB of text. A document with errors is saved as a "
        "draft (its issues listed) unless publishing was asked (400). 201 for a new version, "
        "200 when a draft was replaced or the same published document was sent again; 409 "
        "when a published version would change.",
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

    parser_classes = DEFINITION_PARSERS

    @extend_schema(
        summary="Validate a definition without saving it",
        request=UPLOAD_REQUEST,
        responses=s.ValidationReportSerializer,
        description="Every issue with its JSON path; `valid` is false when any is an error. "
        "Text that cannot be read at all (not JSON or YAML) is a 400.",
    )
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

    @extend_schema(
        responses={200: AnyOf(s.DefinitionDetailSerializer, s.DefinitionSummarySerializer)},
        description="Readers of definitions get the detail (source, document, issues); users "
        "who may only start it get the summary.",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

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


def _version_action(service, summary: str, description: str):
    @extend_schema(
        tags=["definitions"],
        request=None,
        responses={200: s.DefinitionDetailSerializer, **error_responses(409)},
        summary=summary,
        description=description,
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
    "400 when the draft has errors (listed in `fields`); 409 when it is archived.",
)
archive_version = _version_action(
    definition_services.do_archive_definition,
    "Archive a version",
    "Archived versions start no new instances; running ones continue.",
)
mark_latest_version = _version_action(
    definition_services.do_mark_latest,
    "Make this published version the latest",
    "409 when the version is not published.",
)


@extend_schema(
    tags=["definitions"],
    summary="Download the definition as JSON or YAML",
    parameters=[
        OpenApiParameter(
            "format",
            str,
            enum=["json", "yaml"],
            default="json",
            description="json (application/json) or yaml (application/yaml).",
        )
    ],
    responses={
        (200, "application/json"): OpenApiTypes.OBJECT,
        # The same document, written as YAML.
        (200, "application/yaml"): OpenApiTypes.OBJECT,
    },
)
@api_view(["GET"])
def export_version(request, key: str, version: str):
    """The parsed document, as a file: JSON by default, YAML with `?format=yaml`."""
    fmt = request.query_params.get("format", "json").lower()
    if fmt not in {"json", "yaml"}:
        raise ServiceError("format must be json or yaml.", fields={"format": ["json or yaml"]})
    definition = perms.access_definition(request.user, key, version, source=True)
    if fmt == "json":
        text = json.dumps(definition.document, indent=2, ensure_ascii=False)
        ctype = "application/json"
    else:
        text = yaml.safe_dump(definition.document, sort_keys=False, allow_unicode=True)
        ctype = "application/yaml"
    response = HttpResponse(text, content_type=f"{ctype}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{key}-{version}.{fmt}"'
    return response


def svg_response(svg: str) -> HttpResponse:
    response = HttpResponse(svg, content_type="image/svg+xml; charset=utf-8")
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@extend_schema(tags=["definitions"], responses={(200, "image/svg+xml"): OpenApiTypes.STR})
@api_view(["GET"])
def version_diagram(request, key: str, version: str):
    """The definition drawn as states and transitions (SVG)."""
    from apps.workflows.dsl.diagram import render_svg

    definition = perms.access_definition(request.user, key, version)
    return svg_response(render_svg(definition.document))
