"""Content negotiation that answers JSON rather than 406 when the Accept header matches nothing."""

from rest_framework import exceptions
from rest_framework.negotiation import DefaultContentNegotiation


class ContentNegotiation(DefaultContentNegotiation):
    """HTTP lets a server ignore an Accept it cannot meet; a JSON answer beats a 406."""

    def select_renderer(self, request, renderers, format_suffix=None):
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except exceptions.NotAcceptable:
            return renderers[0], renderers[0].media_type
