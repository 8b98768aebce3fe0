"""Operators' admin: publish definitions, watch and control instances, manage secrets, and
see the event plumbing (inbound events, waits, outbox, dead letters, triggers)."""

from . import definitions, events, instances, secrets  # noqa: F401  (each registers its models)
