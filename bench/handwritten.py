"""The benchmark's 4-state logic as plain Temporal code (no Django: the sandbox imports it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from apps.workflows.engine.contracts import ACT_CALL_FUNCTION, FunctionCall


@dataclass
class HandInput:
    qty: int
    url: str


@workflow.defn(name="bench.HandWritten")
class HandWritten:
    """inject -> operation (expression + REST call) -> switch -> end, written by hand."""

    @workflow.run
    async def run(self, inp: HandInput) -> dict:
        data = {"qty": inp.qty, "currency": "EUR"}
        data["doubled"] = inp.qty * 2
        result = await workflow.execute_activity(
            ACT_CALL_FUNCTION,
            FunctionCall(
                instance_id="bench",
                state="Price",
                action=None,
                function={
                    "name": "quote",
                    "type": "rest",
                    "operation": {"url": inp.url, "path": "/quote", "method": "post"},
                },
                auth=None,
                arguments={"qty": inp.qty},
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_attempts=3),
        )
        data["price"] = result["price"]
        data["size"] = "big" if data["price"] > 100 else "small"
        return data
