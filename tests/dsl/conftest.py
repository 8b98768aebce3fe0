"""Fixtures of the workflow-definition front end tests."""

from __future__ import annotations

import pytest


def valid_definition() -> dict:
    """An order process using most of the language, including xflow's extensions."""
    return {
        "id": "order",
        "version": "1.0",
        "specVersion": "0.8",
        "start": "Receive",
        "secrets": ["API_TOKEN"],
        "constants": {"limit": 100},
        "envs": ["REGION"],
        "functions": [
            {
                "name": "charge",
                "operation": "https://pay.example/openapi.json#charge",
                "authRef": "payAuth",
            },
            {"name": "isBig", "type": "expression", "operation": ".order.total > $CONST.limit"},
            {
                "name": "pets",
                "type": "graphql",
                "operation": "https://g.example/graphql#query#pets",
            },
            {"name": "sendMail", "type": "custom", "operation": "xflow:send-email"},
        ],
        "events": [
            {"name": "OrderPlaced", "type": "order.placed", "source": "shop"},
            {"name": "OrderDone", "type": "order.done", "kind": "produced"},
        ],
        "errors": [{"name": "PaymentFailed", "code": "402"}],
        "retries": [{"name": "often", "delay": "PT1S", "maxAttempts": 3}],
        "auth": [
            {
                "name": "payAuth",
                "scheme": "bearer",
                "properties": {"token": "${ $SECRETS.API_TOKEN }"},
            }
        ],
        "states": [
            {
                "name": "Receive",
                "type": "event",
                "onEvents": [
                    {
                        "eventRefs": ["OrderPlaced"],
                        "eventDataFilter": {"toStateData": "${ .order }"},
                    }
                ],
                "transition": "Check",
            },
            {
                "name": "Check",
                "type": "switch",
                "dataConditions": [
                    {"name": "big", "condition": "${ fn:isBig }", "transition": "Approve"}
                ],
                "defaultCondition": {"transition": "Charge"},
            },
            {
                "name": "Approve",
                "type": "usertask",
                "taskKey": "approve-order",
                "title": "Order ${ .order.id }",
                "formKey": "order-approval@2",
                "candidateGroups": ["sales"],
                "priority": 70,
                "dueDate": "PT24H",
                "dataFilter": "${ {order} }",
                "outcomes": [
                    {"name": "approved", "label": "Approve", "transition": "Charge"},
                    {"name": "rejected", "label": "Reject", "end": True},
                ],
                "timers": [{"name": "remind", "after": "PT4H", "action": "remind"}],
                "listeners": [{"on": ["created"], "produceEventRef": "OrderDone"}],
            },
            {
                "name": "Charge",
                "type": "operation",
                "actions": [
                    {
                        "functionRef": {
                            "refName": "charge",
                            "arguments": {
                                "amount": "${ .order.total }",
                                "region": "${ $ENVS.REGION }",
                            },
                        },
                        "retryRef": "often",
                    }
                ],
                "onErrors": [{"errorRef": "PaymentFailed", "transition": "Failed"}],
                "compensatedBy": "Refund",
                "transition": "Ship",
            },
            {
                "name": "Ship",
                "type": "parallel",
                "branches": [
                    {"name": "mail", "actions": [{"functionRef": "sendMail"}]},
                    {
                        "name": "later",
                        "actions": [{"functionRef": "sendMail", "sleep": {"before": "PT1M"}}],
                    },
                ],
                "completionType": "atLeast",
                "numCompleted": 1,
                "end": {"produceEvents": [{"eventRef": "OrderDone"}]},
            },
            {
                "name": "Refund",
                "type": "operation",
                "usedForCompensation": True,
                "actions": [{"functionRef": "sendMail"}],
            },
            {
                "name": "Failed",
                "type": "inject",
                "data": {"failed": True},
                "end": {"terminate": True},
            },
        ],
    }


@pytest.fixture
def definition() -> dict:
    """A fresh copy of a valid order process (tests mutate it)."""
    return valid_definition()
