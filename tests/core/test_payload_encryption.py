"""With TEMPORAL_PAYLOAD_KEY, Temporal's history holds no readable secret or data."""

import asyncio
import base64
import uuid

import pytest
from temporalio.client import Client

from apps.core import temporal
from apps.core.worker import build_registry, build_workers
from apps.workflows.engine.contracts import INTERPRETER_WORKFLOW, QUEUE_ENGINE, InterpreterInput

DEFINITION = {
    "id": "secretive",
    "version": "1",
    "specVersion": "0.8",
    "start": "Use",
    "secrets": ["apiKey"],
    "states": [
        {
            "name": "Use",
            "type": "inject",
            "data": {},
            "end": True,
            "stateDataFilter": {"output": "${ {used: ($SECRETS.apiKey | length)} }"},
        }
    ],
}


@pytest.mark.django_db(transaction=True)
def test_history_is_encrypted_and_the_workflow_still_reads_its_secret(settings):
    settings.TEMPORAL_PAYLOAD_KEY = "a key only xflow processes know"
    settings.TEMPORAL_QUEUE_PREFIX = f"codec-{uuid.uuid4().hex[:8]}-"
    secret = f"s3cr3t-{uuid.uuid4().hex}"

    async def scenario():
        client = await temporal.connect()
        workers = build_workers(client, build_registry(), [QUEUE_ENGINE])
        running = [asyncio.create_task(w.run()) for w in workers]
        try:
            workflow_id = f"codec-{uuid.uuid4()}"
            output = await client.execute_workflow(
                INTERPRETER_WORKFLOW,
                InterpreterInput(
                    instance_id=str(uuid.uuid4()),
                    definition=DEFINITION,
                    definition_key="secretive",
                    version="1",
                    input={"customer": "Jane Roe"},
                    secrets={"apiKey": secret},
                ),
                id=workflow_id,
                task_queue=temporal.queue_name(QUEUE_ENGINE),
            )
            plain = await Client.connect(settings.TEMPORAL_ADDRESS)  # no key: what the server has
            history = await plain.get_workflow_handle(workflow_id).fetch_history()
            return output, history.to_json()
        finally:
            for w in workers:
                await w.shutdown()
            for t in running:
                t.cancel()

    output, raw_history = asyncio.run(scenario())
    assert output == {"used": len(secret)}
    assert secret not in raw_history
    assert "Jane Roe" not in raw_history
    assert base64.b64encode(b"binary/xflow-fernet").decode() in raw_history
