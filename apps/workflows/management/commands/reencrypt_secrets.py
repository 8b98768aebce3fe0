"""python manage.py reencrypt_secrets : re-encrypt the secrets store with the newest key."""

from django.core.management.base import BaseCommand, CommandError

from apps.core.errors import ServiceError
from apps.workflows.services.secrets import do_reencrypt_secrets, secrets_keys


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret with the first key of XFLOW_SECRETS_KEYS; afterwards "
        "the older keys can be removed from the list."
    )

    def handle(self, *args, **options):
        try:
            count = do_reencrypt_secrets()
        except ServiceError as exc:
            raise CommandError(exc.message) from None
        older = len(secrets_keys()) - 1
        self.stdout.write(
            f"{count} secret(s) re-encrypted with the newest key; "
            f"{older} older key(s) may now be removed."
        )
