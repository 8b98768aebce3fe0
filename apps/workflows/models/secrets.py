"""Secrets that `$SECRETS.NAME` reads: encrypted at rest, never shown back."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

secret_name = RegexValidator(
    r"^[A-Za-z_][A-Za-z0-9_]*$", "Use letters, digits and underscores, not starting with a digit."
)


class Secret(models.Model):
    name = models.CharField(max_length=200, unique=True, validators=[secret_name])
    ciphertext = models.TextField(editable=False)
    description = models.CharField(max_length=500, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
