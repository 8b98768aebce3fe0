"""Examples of the main operations for the OpenAPI document (upload, start, events, detail)."""

from drf_spectacular.utils import OpenApiExample

GREETING_YAML = """\
id: greeting
version: "1"
specVersion: "0.8"
name: Greeting
start: Greet
states:
  - name: Greet
    type: inject
    data:
      greeting: Hello
    end: true
"""

GREETING = {
    "id": "greeting",
    "version": "1",
    "specVersion": "0.8",
    "name": "Greeting",
    "start": "Greet",
    "states": [{"name": "Greet", "type": "inject", "data": {"greeting": "Hello"}, "end": True}],
}

INSTANCE_ID = "7d3f6b1e-2c4a-4e8b-9f10-3a5c7e9b1d24"

INSTANCE_DETAIL = {
    "id": INSTANCE_ID,
    "definition": "greeting",
    "version": "1",
    "businessKey": "order-42",
    "status": "completed",
    "current_states": [],
    "visited_states": ["Greet"],
    "pending_actions": [],
    "error": None,
    "parent": None,
    "restarted_from": None,
    "started_by": "operator",
    "created_at": "2026-01-31T09:30:00.120000Z",
    "updated_at": "2026-01-31T09:30:00.480000Z",
    "ended_at": "2026-01-31T09:30:00.470000Z",
    "input": {"name": "Ada"},
    "output": {"name": "Ada", "greeting": "Hello"},
    "children": [],
    "actions": ["restart"],
    "workflow_id": f"xflow-{INSTANCE_ID}",
    "run_id": "0190b7c2-5d1e-7a3b-8c4d-2e6f8a0b1c3d",
}

UPLOAD_REQUEST = [
    OpenApiExample(
        "YAML text",
        value=GREETING_YAML,
        media_type="application/yaml",
        request_only=True,
        description="`POST /api/v1/definitions/?publish=true` with the file as the body.",
    ),
    OpenApiExample(
        "The document as JSON",
        value=GREETING,
        media_type="application/json",
        request_only=True,
    ),
    OpenApiExample(
        "Text in a JSON object",
        value={"source": GREETING_YAML, "publish": True},
        media_type="application/json",
        request_only=True,
    ),
]

START_REQUEST = [
    OpenApiExample(
        "Start the latest published version",
        value={"definition": "greeting", "input": {"name": "Ada"}, "businessKey": "order-42"},
        request_only=True,
        description="Send `Idempotency-Key: order-42` to make a retried request safe.",
    )
]

START_RESPONSE = [
    OpenApiExample(
        "Started",
        value={
            **INSTANCE_DETAIL,
            "status": "starting",
            "visited_states": [],
            "output": None,
            "ended_at": None,
            "actions": ["cancel", "terminate"],
            "run_id": "",
        },
        response_only=True,
        status_codes=["201"],
    )
]

INSTANCE_RESPONSE = [
    OpenApiExample("A completed instance", value=INSTANCE_DETAIL, response_only=True)
]

EVENT_REQUEST = [
    OpenApiExample(
        "An order was paid",
        value={
            "specversion": "1.0",
            "id": "evt-2026-0001",
            "source": "/shop/orders",
            "type": "order.paid",
            "orderid": "42",
            "data": {"amount": 99.5},
        },
        request_only=True,
        description="Extension attributes (here `orderid`) are what `correlation` rules match.",
    )
]

EVENT_RESPONSE = [
    OpenApiExample(
        "Accepted: written to the events topic",
        value={
            "id": "evt-2026-0001",
            "source": "/shop/orders",
            "type": "order.paid",
            "topic": "xflow.events",
            "partition": 2,
            "offset": 1187,
        },
        response_only=True,
        status_codes=["202"],
    )
]
