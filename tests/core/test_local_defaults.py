"""A fresh clone's manage.py reaches the same local servers as `make run`, and email links open
the Videoflix SPA pages that the docs name."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
PRINT_SETTINGS = """
import json
from django.conf import settings
db = settings.DATABASES["default"]
print(json.dumps({
    "db": [db["HOST"], db["PORT"], db["USER"], db["NAME"]],
    "queue": [settings.RQ_QUEUES["default"]["HOST"], settings.RQ_QUEUES["default"]["PORT"]],
    "cache": settings.CACHES["default"]["LOCATION"],
    "links": [settings.FRONTEND_URL, settings.EMAIL_VERIFICATION_PATH, settings.PASSWORD_RESET_PATH],
}))
"""


def test_defaults_without_env_are_the_local_servers_and_the_spa_pages():
    for path in (BASE_DIR / ".env", BASE_DIR / ".local" / "servers.env"):
        if path.exists():
            pytest.skip(f"{path.relative_to(BASE_DIR)} exists here and sets the values on purpose")
    prefixes = ("DB_", "REDIS_", "FRONTEND_URL", "EMAIL_VERIFICATION_PATH", "PASSWORD_RESET_PATH")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env["DJANGO_SETTINGS_MODULE"] = "core.settings"
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()\n" + PRINT_SETTINGS],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    values = json.loads(result.stdout)
    assert values["db"] == ["127.0.0.1", 5432, "postgres", "videoflix"]
    assert values["queue"] == ["127.0.0.1", 6379]
    assert values["cache"] == "redis://127.0.0.1:6379/1"
    assert values["links"] == [
        "http://127.0.0.1:5500",
        "/pages/auth/activate.html",
        "/pages/auth/confirm_password.html",
    ]
