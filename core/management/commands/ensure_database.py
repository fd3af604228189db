"""Create the configured PostgreSQL database when it does not exist and the server allows it."""

import psycopg2
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from psycopg2 import sql


class Command(BaseCommand):
    help = "Create the database named by DB_NAME if it is missing (needs CREATEDB rights)."

    def handle(self, *args, **options):
        db = settings.DATABASES["default"]
        params = {
            "user": db["USER"],
            "password": db["PASSWORD"],
            "host": db["HOST"],
            "port": db["PORT"],
            "connect_timeout": 5,
        }
        try:
            connection = psycopg2.connect(dbname="postgres", **params)
        except psycopg2.OperationalError as exc:
            raise CommandError(
                f"Cannot reach PostgreSQL at {db['HOST']}:{db['PORT']} as {db['USER']}: {exc}".strip()
            ) from exc
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]])
                if cursor.fetchone():
                    return
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db["NAME"])))
                self.stdout.write(self.style.SUCCESS(f"Created database {db['NAME']}."))
        except psycopg2.Error as exc:
            raise CommandError(f"Could not create database {db['NAME']}: {exc}".strip()) from exc
        finally:
            connection.close()
