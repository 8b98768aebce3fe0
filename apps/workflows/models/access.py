"""Who may start a definition: a list of groups per definition key, for every version of it."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models


class DefinitionAccess(models.Model):
    """The starter groups of one definition key.

    Kept per key rather than per version: who may start "leave-request" is a decision about
    the process, and a new version must not silently widen or narrow it. No row (or no
    groups) means only staff holding `workflows.add_workflowinstance` may start it.
    """

    key = models.CharField(max_length=200, unique=True, help_text="The definition's id (key).")
    starter_groups = models.ManyToManyField(
        Group,
        blank=True,
        related_name="startable_definitions",
        help_text="Members of these groups may start any published version of this definition.",
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key"]
        verbose_name = "who may start a definition"
        verbose_name_plural = "who may start definitions"

    def __str__(self) -> str:
        return self.key
