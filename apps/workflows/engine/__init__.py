"""The workflow engine: the interpreter workflow, its state handlers and the activity contract."""


def interpreter_workflows() -> list[type]:
    """The workflow classes a worker registers (imported lazily: activities need not load jq)."""
    from apps.workflows.engine.interpreter import interpreter_workflows as classes

    return classes()
