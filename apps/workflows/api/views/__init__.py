"""REST API of definitions, instances, secrets and the event ingress."""

from .definitions import (
    DefinitionListView,
    DefinitionStartersView,
    DefinitionValidateView,
    DefinitionVersionView,
    archive_version,
    definition_key_detail,
    export_version,
    mark_latest_version,
    publish_version,
    version_diagram,
)
from .instances import InstanceViewSet
from .secrets_events import SecretViewSet, ingest_event

__all__ = [
    "DefinitionListView",
    "DefinitionStartersView",
    "DefinitionValidateView",
    "DefinitionVersionView",
    "InstanceViewSet",
    "SecretViewSet",
    "archive_version",
    "definition_key_detail",
    "export_version",
    "ingest_event",
    "mark_latest_version",
    "publish_version",
    "version_diagram",
]
