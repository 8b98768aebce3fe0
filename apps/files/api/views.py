"""REST API of stored files: upload, list, metadata, content, soft delete."""

from __future__ import annotations

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.core.api.schema import error_responses
from apps.files import permissions, services
from apps.files.api import serializers as s
from apps.files.api.upload import FileUploadParser, UploadViewMixin, uploaded_file
from apps.files.download import file_response
from apps.files.models import StoredFile
from apps.workflows import permissions as workflow_permissions


class FileFilter(django_filters.FilterSet):
    task = django_filters.UUIDFilter(field_name="task_id", help_text="Files attached to a task.")
    instance = django_filters.UUIDFilter(
        field_name="instance_id", help_text="Files linked to a workflow instance."
    )
    mine = django_filters.BooleanFilter(method="filter_mine", help_text="Only files I uploaded.")

    class Meta:
        model = StoredFile
        fields: list[str] = []

    def filter_mine(self, queryset, name, value):
        return queryset.filter(owner_id=self.request.user.pk) if value else queryset


_CONTENT_RESPONSES = {
    (200, "*/*"): OpenApiResponse(
        OpenApiTypes.BINARY,
        description="The whole file, with its sniffed Content-Type, ETag (its sha256) and a "
        "Content-Disposition attachment with a safe name.",
    ),
    (206, "*/*"): OpenApiResponse(
        OpenApiTypes.BINARY, description="The requested byte range (Content-Range)."
    ),
    (302, "*/*"): OpenApiResponse(
        description="S3 storage: the content is at a short-lived presigned URL (Location)."
    ),
    (304, "*/*"): OpenApiResponse(description="If-None-Match matched: the client's copy is it."),
    **error_responses(416, 503),
}


@extend_schema(tags=["files"])
class FileViewSet(
    UploadViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Stored files you may see: yours, your tasks' and your instances' (operators: all)."""

    serializer_class = s.FileSerializer
    filterset_class = FileFilter
    ordering_fields = ["created_at"]
    lookup_value_regex = "[0-9a-fA-F-]{36}"
    upload_actions = ("create",)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return StoredFile.objects.none()
        rows = permissions.visible_files(self.request.user).select_related("owner")
        # Operators read deleted files one by one; lists hold the live ones.
        return rows.live() if self.action == "list" else rows

    def get_object(self):
        return permissions.access_file(self.request.user, self.kwargs["pk"], self.get_queryset())

    def get_parsers(self):
        if self._upload_request():
            return [FileUploadParser()]
        return super().get_parsers()

    @extend_schema(summary="Files you may see, newest first")
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(summary="One file's metadata")
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        summary="Upload a file (multipart/form-data, part `file`)",
        request={"multipart/form-data": s.UploadSerializer},
        responses={201: s.FileSerializer, **error_responses(404, 503)},
        description="Streamed to storage with its sha256 computed on the way. 400: no `file` "
        "part, or an empty file; 413: larger than XFLOW_FILE_MAX_BYTES; 415: a type refused "
        "(programs and scripts by default); 404: `instance` names no instance you may see.",
    )
    def create(self, request):
        upload = uploaded_file(request)
        body = s.UploadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        instance = None
        if body.validated_data.get("instance"):
            instance = workflow_permissions.access_instance(
                request.user, body.validated_data["instance"]
            )
        stored = services.do_upload_file(user=request.user, upload=upload, instance=instance)
        data = s.FileSerializer(stored, context={"request": request}).data
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Delete a file (soft: no longer listed or served)",
        responses={204: None},
        description="The uploader, or a files operator (files.delete_storedfile); others who "
        "see the file get 403.",
    )
    def destroy(self, request, pk=None):
        services.do_delete_file(self.get_object(), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="The file's content (streamed; byte ranges; S3: a presigned redirect)",
        parameters=[
            OpenApiParameter(
                "Range",
                str,
                OpenApiParameter.HEADER,
                description="One byte range, e.g. `bytes=0-1023`, `bytes=1024-`, `bytes=-500`.",
            ),
            OpenApiParameter("If-Range", str, OpenApiParameter.HEADER),
            OpenApiParameter("If-None-Match", str, OpenApiParameter.HEADER),
        ],
        responses=_CONTENT_RESPONSES,
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def content(self, request, pk=None):
        return file_response(request, self.get_object())
