"""What every app's database-backed Temporal activity needs (engine, tasks, forms)."""

from __future__ import annotations

import functools

from django.db import close_old_connections
from temporalio import activity
from temporalio.exceptions import ApplicationError

from apps.core.errors import ServiceError
from apps.workflows.engine.contracts import FUNCTION_ERROR, workflow_id_for


def db_activity(fn):
    """Fresh DB connections per call; a service's refusal is a business error, not retried.

    Long-lived worker threads must not reuse a connection the server has closed, and a
    ServiceError will not heal by retrying: the interpreter gets it as a FunctionError whose
    code the definition's `onErrors` can match. Any other exception is retried by Temporal.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        close_old_connections()
        try:
            return fn(*args, **kwargs)
        except ServiceError as exc:
            raise ApplicationError(
                exc.message,
                {"code": exc.code, "message": exc.message},
                type=FUNCTION_ERROR,
                non_retryable=True,
            ) from None
        finally:
            close_old_connections()

    return wrapper


def is_platform_instance(instance_id: str) -> bool:
    """Platform instances run under the workflow id derived from their row's id; ad-hoc runs
    (`run_workflow`, benchmarks, test harnesses) use other ids and have no row."""
    return activity.info().workflow_id == workflow_id_for(instance_id)
