"""Create the superuser named by DJANGO_SUPERUSER_* once; silent when they are not set."""

from decouple import config
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the superuser from DJANGO_SUPERUSER_EMAIL/_PASSWORD (or _USERNAME) if it does not exist."

    def handle(self, *args, **options):
        username = config("DJANGO_SUPERUSER_USERNAME", default="")
        email = config("DJANGO_SUPERUSER_EMAIL", default="") or (username if "@" in username else "")
        password = config("DJANGO_SUPERUSER_PASSWORD", default="")
        if not email or not password:
            return

        User = get_user_model()
        email = User.objects.normalize_email(email)
        if User.objects.filter(email=User.objects.normalize_email(email)).exists():
            self.stdout.write(f"Superuser {email} already exists.")
            return
        User.objects.create_superuser(email=email, password=password)
        self.stdout.write(self.style.SUCCESS(f"Created superuser {email}."))
