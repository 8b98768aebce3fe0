"""REST API of secrets (write-only values) and the HTTP ingress for CloudEvents."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import api_view, permission_classes
from rest_framework.response import Response

from apps.core.errors import ServiceError
from apps.workflows import permissions as perms
from apps.workflows.api import examples
from apps.workflows.api import serializers as s
from apps.workflows.error_codes import WorkflowErrorCode
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


@extend_schema(
    tags=["events"],
    summary="Send a CloudEvent: start or wake matching instances",
    request=s.CloudEventSerializer,
    responses={202: s.EventDeliverySerializer},
    examples=[*examples.EVENT_REQUEST, *examples.EVENT_RESPONSE],
    description="Structured JSON, CloudEvents 1.0. The same (source, id) again is recognised "
    "(`duplicate`) and reaches no instance twice.",
)
@api_view(["POST"])
@permission_classes([permissions.IsAuthenticated])
def ingest_event(request):
    """HTTP ingress for one CloudEvent (structured JSON): start or wake matching instances."""
    perms.require_send_events(request.user)
    event = s.CloudEventSerializer(data=request.data)
    if not event.is_valid():
        fields = event.errors if isinstance(event.errors, dict) else {}
        first = next(iter(fields.items()), ("event", ["not a JSON object"]))
        raise ServiceError(
            f"The CloudEvent is not valid: {first[0]}: {first[1][0]}",
            code=WorkflowErrorCode.EVENT_INVALID,
            fields={name: [str(m) for m in messages] for name, messages in fields.items()},
        )
    # The serializer bounds the attributes the platform stores; extension attributes (which
    # correlation rules match) pass through as sent.
    result = event_services.deliver_event(dict(request.data), user=request.user)
    return Response(result.as_dict(), status=status.HTTP_202_ACCEPTED)
