"""Machine codes of the errors the tasks app reports (messages are written for a person)."""

from enum import Enum


class TaskErrorCode(str, Enum):
    TASK_NOT_FOUND = "task_not_found"
    NOT_ALLOWED = "task_action_not_allowed"  # 403: the user has no right to this action
    WRONG_STATUS = "task_wrong_status"  # 409: not in this status (claimed, completed...)
    UNKNOWN_OUTCOME = "task_unknown_outcome"
    DATA_INVALID = "task_data_invalid"
    USER_NOT_FOUND = "task_user_not_found"
    INSTANCE_NOT_VISIBLE = "task_instance_not_visible"
