"""The limits one jq evaluation runs under, the settings that set them, and the errors."""

from __future__ import annotations

from dataclasses import dataclass

# Limit name -> the setting (an environment variable of the same name) that controls it.
SETTINGS = {
    "cpu": "XFLOW_EXPRESSION_CPU_SECONDS",
    "wall": "XFLOW_EXPRESSION_WALL_SECONDS",
    "memory": "XFLOW_EXPRESSION_MEMORY_MB",
    "output": "XFLOW_EXPRESSION_OUTPUT_KB",
}


@dataclass(frozen=True)
class Limits:
    """Per evaluation: CPU and wall seconds, memory and output size; children per process."""

    # Temporal's deadlock detector fails a workflow activation that runs for 2 s: a hostile
    # expression must be stopped well before that, with room for the activation's other work.
    cpu_seconds: float = 0.5
    wall_seconds: float = 1.5
    memory_mb: int = 256
    output_kb: int = 4096
    pool_size: int = 4

    @classmethod
    def from_settings(cls, settings: object) -> Limits:
        """Read XFLOW_EXPRESSION_* from Django settings; missing ones keep the defaults."""
        d = cls()
        return cls(
            cpu_seconds=float(getattr(settings, "XFLOW_EXPRESSION_CPU_SECONDS", d.cpu_seconds)),
            wall_seconds=float(getattr(settings, "XFLOW_EXPRESSION_WALL_SECONDS", d.wall_seconds)),
            memory_mb=int(getattr(settings, "XFLOW_EXPRESSION_MEMORY_MB", d.memory_mb)),
            output_kb=int(getattr(settings, "XFLOW_EXPRESSION_OUTPUT_KB", d.output_kb)),
            pool_size=max(1, int(getattr(settings, "XFLOW_EXPRESSION_POOL_SIZE", d.pool_size))),
        )

    def describe(self, limit: str) -> str:
        """The limit in words, with the setting that controls it."""
        value = {
            "cpu": f"{self.cpu_seconds:g} s of CPU time",
            "wall": f"{self.wall_seconds:g} s",
            "memory": f"{self.memory_mb} MB of memory",
            "output": f"{self.output_kb} KB of output",
        }[limit]
        return f"{value} (set by {SETTINGS[limit]})"


class JqError(ValueError):
    """The program does not compile, or jq raised an error while running it."""


class JqLimitExceeded(Exception):
    """The evaluation was stopped: it used more than a limit allows."""

    def __init__(self, limit: str, message: str) -> None:
        super().__init__(message)
        self.limit = limit  # cpu | wall | memory | output | crash


class JqStopped(Exception):
    """The evaluator was shut down (the worker is stopping): not the expression's fault.

    Deliberately not a JqError: in a workflow it fails the workflow task, which Temporal
    retries on a running worker, instead of failing the instance.
    """
