"""Container health checks: `manage.py healthcheck database cache` exits 1 naming what fails."""

import socket

import django_rq
from django.core.management.base import BaseCommand, CommandError
from rq import Worker

from core.health import CHECKS, run_checks


class Command(BaseCommand):
    help = "Run health checks by name (default: all). Exit status 1 names the failing ones."

    def add_arguments(self, parser):
        parser.add_argument("checks", nargs="*", help="Any of: " + ", ".join(CHECKS))
        parser.add_argument(
            "--this-host", action="store_true", help="Require an RQ worker registered from this host."
        )

    def handle(self, *args, **options):
        unknown = sorted(set(options["checks"]) - set(CHECKS))
        if unknown:
            raise CommandError(f"Unknown check: {', '.join(unknown)}. Known checks: {', '.join(CHECKS)}.")
        results = run_checks(options["checks"] or None)
        failing = {name: result["error"] for name, result in results.items() if not result["ok"]}
        if options["this_host"]:
            hostname = socket.gethostname()
            workers = Worker.all(connection=django_rq.get_connection("default"))
            if not any(worker.hostname == hostname for worker in workers):
                failing["worker"] = f"No RQ worker registered from host {hostname}."
        if failing:
            raise CommandError("; ".join(f"{name}: {error}" for name, error in failing.items()))
        self.stdout.write("healthy: " + ", ".join(results))
