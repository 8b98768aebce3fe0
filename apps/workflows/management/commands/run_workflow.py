"""python manage.py run_workflow FILE [--input JSON] : run one definition and print its output.

For trying a definition from the command line (and for scripted conformance checks): the
file is validated, then run to completion by the real interpreter on an in-process worker
with the production activities, on a private task queue of the configured Temporal server
(or of a throw-away dev server with --ephemeral). Nothing is stored in the database.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.core import temporal
from apps.workflows.engine.contracts import INTERPRETER_WORKFLOW, QUEUE_ENGINE, InterpreterInput


class Command(BaseCommand):
    help = "Validate and run a workflow definition once; print the workflow output as JSON."

    def add_arguments(self, parser):
        parser.add_argument("file", help="a definition file (JSON or YAML), or - for stdin")
        parser.add_argument(
            "--input", default=None, help="the workflow input as JSON text, or @FILE to read it"
        )
        parser.add_argument(
            "--timeout", type=float, default=120.0, help="seconds to wait for the end (default 120)"
        )
        parser.add_argument(
            "--ephemeral",
            action="store_true",
            help="start a throw-away Temporal dev server for this run",
        )
        parser.add_argument(
            "--event",
            action="append",
            default=[],
            metavar="JSON",
            help="a CloudEvent (JSON) to send to the instance once started",
        )

    def handle(self, *args, **options):
        from apps.core.errors import ServiceError

        try:
            self._handle(**options)
        except ServiceError as exc:
            raise CommandError(exc.message) from None

    def _handle(self, *, file, input, timeout, ephemeral, event, **options):
        from apps.workflows.services.definitions import check_source
        from apps.workflows.services.instances import resolve_envs, validate_input
        from apps.workflows.services.resources import inline_resources
        from apps.workflows.services.secrets import resolve_secrets

        text = sys.stdin.read() if file == "-" else self._read(file)
        checked = check_source(text, filename=None if file == "-" else file)
        if checked.errors:
            for issue in checked.errors:
                self.stderr.write(f"{issue.get('path') or '(document)'}: {issue['message']}")
            raise CommandError(f"the definition has {len(checked.errors)} error(s)")
        data = self._input(input)
        events = [json.loads(e) for e in event]
        document = inline_resources(checked.document)
        validate_input(document, data)
        params = InterpreterInput(
            instance_id=str(uuid.uuid4()),
            definition=document,
            definition_key=checked.key or "adhoc",
            version=checked.version or "0",
            input=data,
            envs=resolve_envs(document),
            secrets=resolve_secrets(document),
        )
        try:
            output = asyncio.run(self._run(params, timeout, ephemeral, events))
        except TimeoutError:
            raise CommandError(f"the workflow did not end within {timeout:g}s") from None
        self.stdout.write(json.dumps(output, indent=2, ensure_ascii=False))

    def _read(self, file: str) -> str:
        try:
            return Path(file).read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc}") from None

    def _input(self, text: str | None):
        if text is None:
            return {}
        if text.startswith("@"):
            text = self._read(text[1:])
        try:
            return json.loads(text)
        except ValueError as exc:
            raise CommandError(f"--input is not JSON: {exc}") from None

    async def _run(self, params, timeout, ephemeral, events):
        from django.conf import settings
        from temporalio.client import WorkflowFailureError

        from apps.core.worker import build_registry, build_workers

        env = None
        if ephemeral:
            from temporalio.testing import WorkflowEnvironment

            env = await WorkflowEnvironment.start_local(
                ip="127.0.0.1",
                dev_server_existing_path=str(Path(sys.executable).parent / "temporal"),
            )
            client = env.client
        else:
            client = await temporal.connect()
        settings.TEMPORAL_QUEUE_PREFIX = f"run-{uuid.uuid4().hex[:8]}-"
        workers = build_workers(client, build_registry())
        running = [asyncio.create_task(w.run()) for w in workers]
        try:
            queue = temporal.queue_name(QUEUE_ENGINE)
            handle = await client.start_workflow(
                INTERPRETER_WORKFLOW,
                params,
                id=f"xflow-run-{params.instance_id}",
                task_queue=queue,
            )
            for ce in events:
                await handle.signal("event", ce)
            try:
                return await asyncio.wait_for(handle.result(), timeout)
            except WorkflowFailureError as exc:
                cause = exc.cause
                detail = getattr(cause, "details", None) or [str(cause)]
                raise CommandError(
                    f"the workflow failed: {json.dumps(detail[0], default=str)}"
                ) from None
        finally:
            for w in workers:
                await w.shutdown()
            for task in running:
                task.cancel()
            if env is not None:
                await env.shutdown()
