from .access import DefinitionAccess
from .definitions import DefinitionEvent, DefinitionStatus, WorkflowDefinition
from .events import (
    DeadLetter,
    EventDelivery,
    EventTrigger,
    EventWait,
    InboundEvent,
    OutboxEvent,
    OutboxStatus,
    WebhookAuth,
)
from .instances import InstanceEvent, InstanceStatus, WorkflowInstance
from .secrets import Secret

__all__ = [
    "DeadLetter",
    "DefinitionAccess",
    "DefinitionEvent",
    "DefinitionStatus",
    "EventDelivery",
    "EventTrigger",
    "EventWait",
    "InboundEvent",
    "InstanceEvent",
    "InstanceStatus",
    "OutboxEvent",
    "OutboxStatus",
    "Secret",
    "WebhookAuth",
    "WorkflowDefinition",
    "WorkflowInstance",
]
