"""What the tasks app runs on the Temporal worker (QUEUE_TASKS)."""

from apps.workflows.engine.contracts import QUEUE_TASKS


def register(registry) -> None:
    from apps.tasks.activities import task_activities

    registry.add(QUEUE_TASKS, activities=task_activities())
