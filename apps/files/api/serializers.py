"""Serializers of the files API: they validate and shape; the services decide."""

from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from apps.files.models import StoredFile


class FileSerializer(serializers.ModelSerializer):
    """A stored file's metadata (its bytes are at `download`)."""

    contentType = serializers.CharField(
        source="content_type", help_text="Sniffed from the bytes, not taken from the client."
    )
    owner = serializers.SerializerMethodField(help_text="Who uploaded it.")
    task = serializers.UUIDField(source="task_id", allow_null=True)
    instance = serializers.UUIDField(source="instance_id", allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")
    deletedAt = serializers.DateTimeField(
        source="deleted_at", allow_null=True, help_text="Set once deleted (operators only see it)."
    )
    download = serializers.SerializerMethodField(help_text="Where its content is downloaded.")

    class Meta:
        model = StoredFile
        fields = [
            "id",
            "name",
            "contentType",
            "size",
            "sha256",
            "owner",
            "task",
            "instance",
            "createdAt",
            "deletedAt",
            "download",
        ]

    def get_owner(self, obj) -> str | None:
        return obj.owner.get_username() if obj.owner_id else None

    def get_download(self, obj) -> str:
        path = reverse("api:file-content", args=[obj.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class UploadSerializer(serializers.Serializer):
    """The multipart form of an upload (validated by the service: it knows the limits)."""

    file = serializers.FileField(
        required=False,
        allow_empty_file=True,
        help_text="The file (multipart/form-data part `file`). Its type is sniffed from its "
        "bytes; programs and scripts are refused (415); larger than the limit: 413.",
    )
    instance = serializers.UUIDField(
        required=False, help_text="Link the file to this workflow instance (one you may see)."
    )


class AttachSerializer(serializers.Serializer):
    file = serializers.FileField(
        required=False,
        allow_empty_file=True,
        help_text="The file (multipart/form-data part `file`).",
    )
