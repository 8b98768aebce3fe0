"""Accept a definition as YAML or JSON text in the raw body (at most 1 MiB, like the loader)."""

from apps.core.api.parsers import JSONParser, text_parsers
from apps.workflows.dsl.loader import MAX_DEFINITION_BYTES

# The media types a definition's text may be sent as; each is documented in the schema.
DEFINITION_TEXT_TYPES = (
    "application/yaml",
    "application/x-yaml",
    "text/yaml",
    "text/x-yaml",
    "text/plain",
)

DEFINITION_PARSERS = [
    JSONParser,
    *text_parsers(*DEFINITION_TEXT_TYPES, max_bytes=MAX_DEFINITION_BYTES),
]
