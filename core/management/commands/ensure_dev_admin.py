"""`make run`'s admin account: created for development when no superuser exists, and its login
printed on every start so nobody is left without a way into the admin."""

import json
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

DEV_ADMIN_EMAIL = "admin@videoflix.local"


class Command(BaseCommand):
    help = (
        "With DEBUG on: create a development superuser when none exists, keep its login in a file "
        "(mode 600, one entry per database) and print it; when other superusers exist, name them."
    )

    def add_arguments(self, parser):
        parser.add_argument("--credentials", required=True, type=Path, help="JSON file with the login.")

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("Refusing to create a development admin with DEBUG off.")
        credentials_path: Path = options["credentials"]
        db = settings.DATABASES["default"]
        # `make run` may use the embedded database one day and a machine's server the next.
        database = f"{db['HOST']}:{db['PORT']}/{db['NAME']}"
        User = get_user_model()
        logins = self._read(credentials_path)
        stored = logins.get(database)
        if stored:
            user = User.objects.filter(
                email=User.objects.normalize_email(stored["email"]), is_superuser=True
            ).first()
            if user is not None and user.check_password(stored["password"]):
                self.stdout.write(f"{stored['email']} / {stored['password']}")
                return

        superusers = list(
            User.objects.filter(is_superuser=True, is_active=True).values_list("email", flat=True)
        )
        if superusers:
            shown = ", ".join(superusers[:3]) + (" …" if len(superusers) > 3 else "")
            self.stdout.write(f"{shown} (password as you set it; manage.py changepassword <email>)")
            return

        password = secrets.token_urlsafe(12)
        user = User.objects.filter(email=User.objects.normalize_email(DEV_ADMIN_EMAIL)).first()
        if user is None:
            User.objects.create_superuser(email=DEV_ADMIN_EMAIL, password=password)
        else:  # the account exists without superuser rights or with a lost password
            user.is_staff = user.is_superuser = user.is_active = True
            user.set_password(password)
            user.save()
        credentials_path.parent.mkdir(parents=True, exist_ok=True)
        credentials_path.touch(mode=0o600)
        logins[database] = {"email": DEV_ADMIN_EMAIL, "password": password}
        credentials_path.write_text(json.dumps(logins, indent=2) + "\n")
        self.stdout.write(f"{DEV_ADMIN_EMAIL} / {password} (created now for development)")

    @staticmethod
    def _read(path: Path) -> dict[str, dict]:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        return {
            database: login
            for database, login in data.items()
            if isinstance(login, dict) and login.get("email") and login.get("password")
        }
