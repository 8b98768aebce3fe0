"""Workflow definitions: one row per (key, version); published versions are immutable."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.core.models import AuditEvent


class DefinitionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    ARCHIVED = "archived", "Archived"


class DefinitionQuerySet(models.QuerySet):
    def published(self):
        return self.filter(status=DefinitionStatus.PUBLISHED)

    def latest_published(self, key: str):
        """The version a start without a version uses: the one marked latest, else the newest."""
        rows = self.published().filter(key=key)
        return rows.filter(is_latest=True).first() or rows.order_by("-published_at").first()

    def starting_on_event(self, event_type: str):
        return self.published().filter(is_latest=True, start_event_types__contains=[event_type])


class WorkflowDefinition(models.Model):
    key = models.CharField(max_length=200, help_text="The definition's `id` (or `key`).")
    version = models.CharField(max_length=100)
    name = models.CharField(max_length=300, blank=True)
    description = models.TextField(blank=True)
    status = models.CharField(
        max_length=16, choices=DefinitionStatus.choices, default=DefinitionStatus.DRAFT
    )
    source = models.TextField(help_text="The text as uploaded (JSON or YAML).")
    source_format = models.CharField(max_length=8, default="json")
    document = models.JSONField(help_text="The parsed definition.")
    checksum = models.CharField(max_length=64, help_text="sha256 of the canonical JSON document.")
    issues = models.JSONField(default=list, blank=True)
    error_count = models.PositiveIntegerField(default=0)
    is_latest = models.BooleanField(default=False)
    start_event_types = models.JSONField(default=list, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)

    objects = DefinitionQuerySet.as_manager()

    class Meta:
        ordering = ["key", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["key", "version"], name="uniq_definition_version"),
            models.UniqueConstraint(
                fields=["key"], condition=models.Q(is_latest=True), name="one_latest_per_key"
            ),
        ]
        indexes = [models.Index(fields=["key", "status"]), models.Index(fields=["status"])]

    def __str__(self) -> str:
        return f"{self.key}@{self.version}"

    @property
    def is_published(self) -> bool:
        return self.status == DefinitionStatus.PUBLISHED


class DefinitionEvent(AuditEvent):
    definition = models.ForeignKey(
        WorkflowDefinition, on_delete=models.CASCADE, related_name="events"
    )

    class Meta(AuditEvent.Meta):
        pass
