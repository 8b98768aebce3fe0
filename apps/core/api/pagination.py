"""Keyset (cursor) pagination for every list: stable under inserts, O(1) per page."""

from base64 import b64decode, b64encode
from urllib import parse

from django.core import signing
from rest_framework import exceptions, pagination
from rest_framework.utils.urls import replace_query_param

_SIGNER = signing.Signer(salt="xflow.api.cursor")


class CursorPagination(pagination.CursorPagination):
    """Cursors are signed: the position inside one goes into a query, so only ours are read."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "-created_at"

    def encode_cursor(self, cursor):
        tokens = {}
        if cursor.offset != 0:
            tokens["o"] = str(cursor.offset)
        if cursor.reverse:
            tokens["r"] = "1"
        if cursor.position is not None:
            tokens["p"] = cursor.position
        querystring = parse.urlencode(tokens, doseq=True)
        encoded = _SIGNER.sign(b64encode(querystring.encode("utf-8")).decode("ascii"))
        return replace_query_param(self.base_url, self.cursor_query_param, encoded)

    def decode_cursor(self, request):
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return None
        try:
            querystring = b64decode(_SIGNER.unsign(encoded).encode("ascii")).decode("utf-8")
            tokens = parse.parse_qs(querystring, keep_blank_values=True)
            offset = pagination._positive_int(tokens.get("o", ["0"])[0], cutoff=self.offset_cutoff)
            reverse = bool(int(tokens.get("r", ["0"])[0]))
            position = tokens.get("p", [None])[0]
        except (signing.BadSignature, TypeError, ValueError):
            raise exceptions.ValidationError(
                {self.cursor_query_param: ["This is not a cursor this API gave out."]}
            ) from None
        return pagination.Cursor(offset=offset, reverse=reverse, position=position)
