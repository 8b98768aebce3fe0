from apps.tasks.lifecycle import TaskStatus

from .records import TaskComment, TaskEvent, TaskResume
from .tasks import TaskCandidacy, UserTask

__all__ = [
    "TaskCandidacy",
    "TaskComment",
    "TaskEvent",
    "TaskResume",
    "TaskStatus",
    "UserTask",
]
