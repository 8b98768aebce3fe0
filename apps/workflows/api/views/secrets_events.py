"""REST API of secrets (write-only values) and the HTTP ingress for CloudEvents."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import api_view, parser_classes, permission_classes
from rest_framework.exceptions import UnsupportedMediaType
from rest_framework.response import Response

from apps.core.api.parsers import BoundedParser
from apps.core.api.schema import error_responses
from apps.workflows import eventcodec
from apps.workflows import permissions as perms
from apps.workflows.api import examples
from apps.workflows.api import serializers as s
from apps.workflows.eventcodec import STRUCTURED, EventRefused
from apps.workflows.models import Secret
from apps.workflows.services import events as event_services
from apps.workflows.services import secrets as secret_services


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

    @extend_schema(summary="Secret names and descriptions (never values)")
    def list(self, request, *args, **kwargs):
        perms.require_secrets(request.user, "view")
        return super().list(request, *args, **kwargs)

    @extend_schema(summary="Set a secret (create it, or replace its value)")
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

    @extend_schema(summary="Delete a secret")
    def destroy(self, request, name=None):
        perms.require_secrets(request.user, "delete")
        secret_services.do_delete_secret(name=name, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class EventBodyParser(BoundedParser):
    """The body as bytes, bounded like every body: the event's mode decides how to read it
    (binary mode carries any content type; structured and plain JSON are parsed later)."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return self.read_body(stream, parser_context)


JSON_TYPES = ("application/json", STRUCTURED)


@extend_schema(
    tags=["events"],
    summary="Send a CloudEvent: written to the events topic, routed by the bridge",
    request={
        "application/json": s.CloudEventSerializer,
        STRUCTURED: s.CloudEventSerializer,
    },
    responses={202: s.EventAcceptedSerializer, **error_responses(503)},
    examples=[*examples.EVENT_REQUEST, *examples.EVENT_RESPONSE],
    description="CloudEvents 1.0 over HTTP, in any of three forms: structured mode "
    "(`Content-Type: application/cloudevents+json`, the whole event in the body), binary mode "
    "(attributes in `ce-*` headers such as `ce-id`, `ce-source`, `ce-type`, `ce-specversion`; "
    "the body is the data, of the request's Content-Type), or a plain JSON object "
    "(`application/json`; `specversion` defaults to 1.0). The event is checked, written to the "
    "Kafka topic the bridge consumes and answered with 202: routing (starting instances, "
    "waking waiting ones, triggers) happens there, once per (source, id). 503 when the broker "
    "is not reachable: the event was not accepted, send it again.",
)
@api_view(["POST"])
@permission_classes([permissions.IsAuthenticated])
@parser_classes([EventBodyParser])
def ingest_event(request):
    """HTTP ingress for one CloudEvent: checked, written to Kafka, routed by the bridge."""
    perms.require_send_events(request.user)
    headers = dict(request.headers)
    binary = any(name.lower().startswith("ce-") for name in headers)
    content_type = (request.content_type or "").split(";")[0].strip().lower()
    if not binary and content_type not in JSON_TYPES and not content_type.endswith("+json"):
        raise UnsupportedMediaType(
            content_type,
            detail=f"Send the event as {STRUCTURED}, as application/json, or in binary mode "
            f"(ce-* headers); {content_type or 'no content type'} is none of these.",
        )
    body = request.data if isinstance(request.data, bytes) else b""
    if not binary and not body:
        raise EventRefused("The body is empty: send a CloudEvent.")
    event = eventcodec.from_http(headers, body)
    accepted = event_services.do_send_event(event, user=request.user)
    return Response(accepted, status=status.HTTP_202_ACCEPTED)
