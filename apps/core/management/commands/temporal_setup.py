"""python manage.py temporal_setup : create xflow's search attributes on the Temporal server."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.core import temporal
from apps.core.search_attributes import ALL


class Command(BaseCommand):
    help = "Create the search attributes xflow sets on its workflows (idempotent)."

    def handle(self, *args, **options):
        try:
            added = temporal.ensure_search_attributes()
        except Exception as exc:
            raise CommandError(
                f"could not set up the search attributes on {settings.TEMPORAL_ADDRESS}: {exc}"
            ) from exc
        names = ", ".join(key.name for key in ALL)
        if added:
            self.stdout.write(f"created search attributes: {', '.join(added)}")
        else:
            self.stdout.write(f"search attributes present: {names}")
