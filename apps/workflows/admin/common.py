"""Small pieces the workflows admin pages share."""

from __future__ import annotations

import json

from django.utils.html import format_html


def pretty(value) -> str:
    return format_html(
        "<pre class='xflow-json'>{}</pre>",
        json.dumps(value, indent=2, ensure_ascii=False, default=str),
    )
