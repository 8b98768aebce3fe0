"""Accept a definition as YAML or JSON text in the raw body."""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser


class DefinitionTextParser(BaseParser):
    """`application/yaml`, `text/yaml`, `text/plain`: the body is the definition's text."""

    media_type = "*/*"
    accepted = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain")

    def parse(self, stream, media_type=None, parser_context=None):
        if media_type and media_type.split(";")[0].strip() not in self.accepted:
            raise ParseError(
                f"Content-Type {media_type!r} is not accepted here; send application/json or "
                "application/yaml."
            )
        raw = stream.read() if stream is not None else b""
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ParseError("The body is not UTF-8 text.") from None
