"""Operators' admin: publish definitions, watch and control instances, manage secrets."""

from . import definitions, instances, secrets  # noqa: F401  (each registers its models)
