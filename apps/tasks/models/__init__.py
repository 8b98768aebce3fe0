from apps.tasks.lifecycle import TaskStatus

from .records import TaskAttachment, TaskComment, TaskEvent, TaskResume
from .tasks import TaskCandidacy, UserTask

__all__ = [
    "TaskAttachment",
    "TaskCandidacy",
    "TaskComment",
    "TaskEvent",
    "TaskResume",
    "TaskStatus",
    "UserTask",
]
