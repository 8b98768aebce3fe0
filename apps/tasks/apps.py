from django.apps import AppConfig


class TasksConfig(AppConfig):
    name = "apps.tasks"
    label = "tasks"
    verbose_name = "User tasks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.tasks import checks  # noqa: F401  (registers the system checks)
