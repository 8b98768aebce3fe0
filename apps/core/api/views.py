"""Platform endpoints: who am I, the API index, the OpenAPI schema."""

from django.contrib.auth.models import Group
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework import exceptions, serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.reverse import reverse


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.CharField(allow_blank=True)
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    is_staff = serializers.BooleanField()
    is_superuser = serializers.BooleanField()
    groups = serializers.ListField(child=serializers.CharField())
    permissions = serializers.ListField(child=serializers.CharField())


@extend_schema(
    tags=["auth"], responses=MeSerializer, summary="The signed-in user, groups and permissions"
)
@api_view(["GET"])
def me(request):
    user = request.user
    data = {
        "id": user.pk,
        "username": user.get_username(),
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "is_staff": user.is_staff,
        "is_superuser": user.is_superuser,
        "groups": sorted(Group.objects.filter(user=user).values_list("name", flat=True)),
        "permissions": sorted(user.get_all_permissions()),
    }
    return Response(MeSerializer(data).data)


@extend_schema(exclude=True)
@api_view(["GET"])
@permission_classes([AllowAny])
def api_root(request):
    def url(name: str) -> str:
        return reverse(name, request=request)

    return Response(
        {
            "me": url("api:me"),
            "schema": url("api-schema"),
            "docs": url("api-docs"),
            "definitions": url("api:definition-list"),
            "instances": url("api:instance-list"),
            "tasks": url("api:task-list"),
        }
    )


class SchemaView(SpectacularAPIView):
    """The OpenAPI document: YAML, or JSON with `?format=json` (or `Accept: application/json`)."""

    def get_format_suffix(self, **kwargs):
        # The API turns DRF's `?format=` off (it belongs to the definition export), so the
        # schema reads it itself.
        fmt = self.request.query_params.get("format")
        if fmt is None:
            return None
        if fmt not in ("json", "yaml"):
            raise exceptions.ValidationError({"format": ["Use json or yaml."]})
        return fmt
