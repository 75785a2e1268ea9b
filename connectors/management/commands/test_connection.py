"""Authenticate against a connection, read one record, report latency and API allowance."""

from django.core.management.base import BaseCommand, CommandError

from connectors.base import connector_for
from connectors.models import Connection


class Command(BaseCommand):
    help = "Test a connection: authenticate, read one record, report latency and allowance."

    def add_arguments(self, parser):
        parser.add_argument("name", help="the connection's name (see `manage.py connections`)")

    def handle(self, *args, name: str, **options):
        try:
            connection = Connection.objects.get(name=name)
        except Connection.DoesNotExist:
            names = ", ".join(Connection.objects.values_list("name", flat=True)) or "none"
            raise CommandError(f"no connection named {name!r}; known: {names}") from None
        result = connector_for(connection).check()
        if not result.ok:
            raise CommandError(f"{name}: {result.summary()}")
        self.stdout.write(self.style.SUCCESS(f"{name}: {result.summary()}"))
