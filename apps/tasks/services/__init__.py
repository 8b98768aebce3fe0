"""The task service: every change to a task goes through one of these (DESIGN rule 1)."""

from apps.tasks.services.actions import (
    do_assign_task,
    do_attach_file,
    do_claim_task,
    do_comment_task,
    do_complete_task,
    do_delegate_task,
    do_delete_task,
    do_note_file_deleted,
    do_resolve_task,
    do_save_draft,
    do_unclaim_task,
    user_by_name,
)
from apps.tasks.services.create import do_create_task
from apps.tasks.services.engine import (
    do_cancel_task,
    do_cancel_tasks_of_instance,
    do_fire_timer,
    do_timeout_task,
)

__all__ = [
    "do_assign_task",
    "do_attach_file",
    "do_cancel_task",
    "do_cancel_tasks_of_instance",
    "do_claim_task",
    "do_comment_task",
    "do_complete_task",
    "do_create_task",
    "do_delegate_task",
    "do_delete_task",
    "do_fire_timer",
    "do_note_file_deleted",
    "do_resolve_task",
    "do_save_draft",
    "do_timeout_task",
    "do_unclaim_task",
    "user_by_name",
]
