"""What the workflows app runs on the Temporal worker."""

from apps.workflows.engine.contracts import QUEUE_ENGINE


def register(registry) -> None:
    from apps.workflows.activities import engine_activities
    from apps.workflows.engine.activities import function_activities
    from apps.workflows.engine.interpreter import interpreter_runner, interpreter_workflows
    from apps.workflows.services import live

    # Running workflows publish their progress; this process writes it (batched).
    live.install()

    registry.add(
        QUEUE_ENGINE,
        workflows=interpreter_workflows(),
        activities=[*engine_activities(), *function_activities()],
        # The engine modules are pure: passing them through the sandbox saves re-importing
        # them for every run.
        workflow_runner=interpreter_runner(),
    )
