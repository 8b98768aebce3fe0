from apps.tasks.lifecycle import TaskStatus

from .records import TaskAttachment, TaskComment, TaskEvent, TaskResume
from .tasks import UserTask

__all__ = [
    "TaskAttachment",
    "TaskComment",
    "TaskEvent",
    "TaskResume",
    "TaskStatus",
    "UserTask",
]
