"""The search attributes xflow gives every workflow, so Temporal's own tools can find it.

Free of Django on purpose: the interpreter (inside Temporal's sandbox) imports these keys to
set the values, and apps.core.temporal.ensure_search_attributes creates them on a server.

    temporal workflow list --query 'XflowDefinition="greeting" AND XflowStatus="running"'
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

DEFINITION = SearchAttributeKey.for_keyword("XflowDefinition")  # the definition's key
VERSION = SearchAttributeKey.for_keyword("XflowVersion")  # the definition version
BUSINESS_KEY = SearchAttributeKey.for_keyword("XflowBusinessKey")  # the instance's business key
STATUS = SearchAttributeKey.for_keyword("XflowStatus")  # the instance's xflow status

ALL: tuple[SearchAttributeKey, ...] = (DEFINITION, VERSION, BUSINESS_KEY, STATUS)


def dev_server_args() -> list[str]:
    """`temporal server start-dev` arguments that create them when the server starts."""
    args: list[str] = []
    for key in ALL:
        args += ["--search-attribute", f"{key.name}=Keyword"]
    return args
