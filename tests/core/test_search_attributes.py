"""xflow's search attributes exist on the Temporal server and find workflows by their words."""

import time
import uuid

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from apps.core import search_attributes, temporal


def _listed() -> dict:
    async def listing(client):
        reply = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace)
        )
        return dict(reply.custom_attributes)

    return temporal.call(listing)


def test_ensure_search_attributes_leaves_all_four_as_keywords_and_is_idempotent():
    # Given the server `make test` uses (the bootstrap has already run this once)
    temporal.ensure_search_attributes()
    # When it runs again
    added = temporal.ensure_search_attributes()
    # Then it adds nothing, and the four attributes are there as Keyword
    assert added == []
    listed = _listed()
    for name in ("XflowDefinition", "XflowVersion", "XflowBusinessKey", "XflowStatus"):
        assert listed.get(name) == IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD, name


def test_a_workflow_is_found_by_definition_and_business_key():
    temporal.ensure_search_attributes()
    definition = f"sa-test-{uuid.uuid4().hex[:8]}"
    business_key = f"order-{uuid.uuid4().hex[:8]}"
    workflow_id = f"xflow-satest-{uuid.uuid4()}"

    async def start(client):
        # No worker serves this queue: the workflow only needs to exist to be listed.
        await client.start_workflow(
            "xflow.SearchAttributeProbe",
            id=workflow_id,
            task_queue=f"sa-probe-{uuid.uuid4().hex[:8]}",
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(search_attributes.DEFINITION, definition),
                    SearchAttributePair(search_attributes.VERSION, "3"),
                    SearchAttributePair(search_attributes.BUSINESS_KEY, business_key),
                    SearchAttributePair(search_attributes.STATUS, "running"),
                ]
            ),
        )

    def found(query: str) -> list[str]:
        async def listing(client):
            return [w.id async for w in client.list_workflows(query)]

        return temporal.call(listing)

    temporal.call(start)
    try:
        by_definition = f'XflowDefinition="{definition}" AND XflowVersion="3"'
        by_key = f'XflowBusinessKey="{business_key}" AND XflowStatus="running"'
        # Visibility is eventually consistent: poll (the deadline only guards a hang).
        deadline = time.monotonic() + 20
        while found(by_definition) != [workflow_id] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert found(by_definition) == [workflow_id]
        assert found(by_key) == [workflow_id]
        assert found(f'XflowDefinition="{definition}-other"') == []
    finally:

        async def terminate(client):
            await client.get_workflow_handle(workflow_id).terminate("test over")

        temporal.call(terminate)
