from .access import DefinitionAccess
from .definitions import DefinitionEvent, DefinitionStatus, WorkflowDefinition
from .events import EventDelivery, EventWait, InboundEvent, OutboxEvent
from .instances import InstanceEvent, InstanceStatus, WorkflowInstance
from .secrets import Secret

__all__ = [
    "DefinitionAccess",
    "DefinitionEvent",
    "DefinitionStatus",
    "EventDelivery",
    "EventWait",
    "InboundEvent",
    "InstanceEvent",
    "InstanceStatus",
    "OutboxEvent",
    "Secret",
    "WorkflowDefinition",
    "WorkflowInstance",
]
