"""The spec's own examples (sw08/examples) that need no external service, with their outputs.

Functions are served by the local HTTP double (answering what examples.md assumes they
return); subflows are small registered definitions.
"""

import json
from pathlib import Path

import pytest

from .builders import definition

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "sw08" / "examples"

pytestmark = pytest.mark.skipif(
    not EXAMPLES.is_dir(), reason="the spec examples are not beside the project"
)


def example(prefix: str) -> dict:
    [path] = EXAMPLES.glob(f"{prefix}-*.json")
    return json.loads(path.read_text())


def test_01_hello_world(engine):
    assert engine.execute(example("01")) == {"result": "Hello World!"}


def test_02_greeting(engine):
    engine.services.add(
        "greeting",
        lambda args, req: (200, {"greeting": f"Welcome to Serverless Workflow, {args['name']}!"}),
    )
    # the action's results filter selects the greeting string, which (spec Data Merging:
    # strings overwrite) becomes the state data
    assert (
        engine.execute(example("02"), {"person": {"name": "John"}})
        == "Welcome to Serverless Workflow, John!"
    )


def test_03_event_based_greeting(engine):
    engine.services.add(
        "greeting",
        lambda args, req: (
            200,
            {"payload": {"greeting": f"Welcome to Serverless Workflow, {args['name']}!"}},
        ),
    )
    event = {
        "type": "greetingEventType",
        "source": "greetingEventSource",
        "data": {"greet": {"name": "John"}},
    }
    assert (
        engine.execute(example("03"), {}, events=[event]) == "Welcome to Serverless Workflow, John!"
    )


def test_04_solve_math_problems(engine):
    answers = {"2+2": 4, "4-1": 3, "10x3": 30, "20/2": 10}
    engine.services.add("solveExpression", lambda args, req: (200, answers[args["expression"]]))
    assert engine.execute(example("04"), {"expressions": list(answers)}) == [4, 3, 30, 10]


def test_05_parallel_execution(engine):
    engine.recorder.definitions["shortdelayworkflowid"] = definition(
        {"name": "Short", "type": "sleep", "duration": "PT0.1S", "transition": "Mark"},
        {"name": "Mark", "type": "inject", "data": {"short": "done"}, "end": True},
    )
    engine.recorder.definitions["longdelayworkflowid"] = definition(
        {"name": "Long", "type": "sleep", "duration": "PT0.5S", "transition": "Mark"},
        {"name": "Mark", "type": "inject", "data": {"long": "done"}, "end": True},
    )
    assert engine.execute(example("05"), {"order": 1}) == {
        "order": 1,
        "short": "done",
        "long": "done",
    }


def test_08_event_based_switch(engine):
    for name, mark in [
        ("handleApprovedVisaWorkflowID", "approved"),
        ("handleRejectedVisaWorkflowID", "rejected"),
        ("handleNoVisaDecisionWorkflowId", "none"),
    ]:
        engine.recorder.definitions[name] = definition(
            {"name": "H", "type": "inject", "data": {"handled": mark}, "end": True}
        )
    event = {"type": "VisaRejected", "source": "visaCheckSource", "data": {"visa": "x"}}
    assert engine.execute(example("08"), {}, events=[event]) == {"visa": "x", "handled": "rejected"}


def test_09_applicant_request(engine):
    engine.recorder.definitions["startApplicationWorkflowId"] = definition(
        {"name": "S", "type": "inject", "data": {"application": "started"}, "end": True}
    )
    engine.services.add("emailRejection", {"emailed": True})
    # the example tests `.applicants | .age` (sic): an applicant list-less input takes the default
    assert engine.execute(example("09"), {"applicants": {"age": 21}})["application"] == "started"
    assert (
        engine.execute(example("09"), {"applicants": {"age": 7}, "applicant": "kid"})["emailed"]
        is True
    )


def test_10_provision_orders_error_handling(engine):
    def provision(args, req):
        order = args["order"]
        if not order.get("id"):
            return 400, {"error": "Missing order id"}
        return 200, {"provisioned": True}

    engine.services.add("doProvision", provision)
    doc = example("10")
    # Runtimes map domain error names to technical errors: here the service's HTTP 400.
    doc["errors"][0]["code"] = "400"
    engine.recorder.definitions["handleMissingIdExceptionWorkflow"] = definition(
        {"name": "H", "type": "inject", "data": {"exception": "missing id"}, "end": True}
    )
    engine.recorder.definitions["applyOrderWorkflowId"] = definition(
        {"name": "A", "type": "inject", "data": {"applied": True}, "end": True}
    )
    order = {"order": {"id": "", "item": "laptop", "quantity": "10"}}
    assert engine.execute(doc, order) == {**order, "exception": "missing id"}


def test_12_cloud_event_on_provision(engine):
    engine.services.add(
        "doProvision", lambda args, req: (200, {"id": args["order"]["id"], "status": "done"})
    )
    started = engine.start(example("12"), {"orders": [{"id": "a"}, {"id": "b"}]})
    out = engine.result(started)
    assert out["provisionedOrders"] == [
        {"id": "a", "status": "done"},
        {"id": "b", "status": "done"},
    ]
    [event] = engine.recorder.emitted[started.instance_id]
    assert event.event["type"] == "provisionCompleteType" and event.data == out["provisionedOrders"]


def test_15_customer_credit_check(engine):
    doc = example("15")
    # the example calls `callCreditCheckMicroservice` but defines `creditCheckFunction`
    doc["functions"][0]["name"] = "callCreditCheckMicroservice"
    engine.services.add("doCreditCheck", {"requested": True})
    engine.recorder.definitions["startApplicationWorkflowId"] = definition(
        {"name": "S", "type": "inject", "data": {"application": "started"}, "end": True}
    )
    started = engine.start(doc, {"customer": {"id": "c9"}})
    engine.wait_for(lambda: engine.recorder.waits[started.instance_id])
    engine.send_event(
        started,
        {
            "type": "creditCheckCompleteType",
            "source": "creditCheckSource",
            "customerId": "c9",
            "data": {"creditCheck": {"decision": "Approved"}},
        },
    )
    assert engine.result(started) == {
        "customer": {"id": "c9"},
        "requested": True,
        "creditCheck": {"decision": "Approved"},
        "application": "started",
    }


def test_26_fill_glass_of_water(engine):
    # a loop of switch + operation with an expression function, bare jq conditions included
    assert engine.execute(example("26"), {"counts": {"current": 0, "max": 10}}) == {
        "counts": {"current": 10, "max": 10}
    }


def test_06_async_function_invocation(engine):
    engine.services.add("sendEmail", {"sent": True})
    doc = example("06")
    started = engine.start(doc, {"customer": {"email": "a@b.c"}})
    # async: the state does not wait and merges nothing
    assert engine.result(started) == {"customer": {"email": "a@b.c"}}
    engine.wait_for(lambda: engine.recorder.calls[started.instance_id])
    assert engine.recorder.calls[started.instance_id][0].arguments == {
        "customer": {"email": "a@b.c"}
    }


def test_07_async_subflow_continues_after_the_parent(engine):
    engine.recorder.definitions["customeronboardingworkflow"] = definition(
        {"name": "Welcome", "type": "sleep", "duration": "PT1S", "end": True}
    )
    started = engine.start(example("07"), {"customer": "c1"})
    assert engine.result(started) == {"customer": "c1"}
    [child] = engine.recorder.children[started.instance_id]
    engine.wait_for(lambda: any(c.status == "completed" for c in engine.recorder.changes[child]))


def test_13_patient_vitals_terminates_after_one_event(engine):
    for op in ("sendTylenolOrder", "callNurse", "callPulmonologist"):
        engine.services.add(op, {"handledBy": op})
    doc = example("13")
    for fn in doc["functions"]:
        fn["operation"] = "http://x/api.json#" + fn["name"]
    event = {
        "type": "org.monitor.highBloodPressure",
        "source": "monitoringSource",
        "patientId": "P1",
        "data": {"patientId": "P1", "pressure": 180},
    }
    started = engine.start(doc, {}, events=[event])
    assert engine.result(started) == {"patientId": "P1", "pressure": 180, "handledBy": "callNurse"}
    assert engine.recorder.changes[started.instance_id][-1].status == "terminated"


def test_14_finalize_college_application_needs_all_correlated_events(engine):
    engine.services.add(
        "finalizeApplication", lambda args, req: (200, {"finalized": args["student"]})
    )
    doc = example("14")
    doc["functions"][0]["operation"] = "http://x/api.json#finalizeApplication"
    started = engine.start(doc, {})
    engine.wait_for(lambda: engine.recorder.waits[started.instance_id])
    for kind, extra in [
        ("submitted", {"applicantId": "A7"}),
        ("satscores", {"sat": 1500}),
        ("recommendationLetter", {"letter": True}),
    ]:
        engine.send_event(
            started,
            {
                "type": f"org.application.{kind}",
                "source": "applicationsource",
                "applicantId": "A7",
                "data": extra,
            },
        )
    assert engine.result(started) == {
        "applicantId": "A7",
        "sat": 1500,
        "letter": True,
        "finalized": "A7",
    }
