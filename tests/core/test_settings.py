"""Settings read from the environment; production refuses unsafe values."""

import os
import secrets

import pytest

from tests.support import manage


def run_django(args, **env_overrides):
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG")}
    env.update(env_overrides)
    return manage(env, *args, timeout=120, check=False)


def production_env(**extra):
    return {
        "DEBUG": "False",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "SECURE_SSL_REDIRECT": "True",
        "SESSION_COOKIE_SECURE": "True",
        "CSRF_COOKIE_SECURE": "True",
        "SECURE_HSTS_SECONDS": "31536000",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": "True",
        "SECURE_HSTS_PRELOAD": "True",
        **extra,
    }


@pytest.mark.parametrize(
    "secret_key",
    ["", "change-me-to-a-long-random-string", "django-insecure-abc", "short-but-not-a-placeholder"],
    ids=["missing", "placeholder", "django-insecure", "too-short"],
)
def test_production_refuses_to_start_without_a_real_secret_key(secret_key):
    env = {"DEBUG": "False"} | ({"SECRET_KEY": secret_key} if secret_key else {})
    result = run_django(["check"], **env)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [
        "Refusing to start: DEBUG is false and SECRET_KEY is missing, a placeholder or shorter than "
        "50 characters; set SECRET_KEY to a long random value."
    ]


def test_debug_mode_starts_with_the_development_key():
    result = run_django(["check"], DEBUG="True")
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_deploy_check_is_clean_with_production_values():
    result = run_django(["check", "--deploy", "--fail-level", "WARNING"], **production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_deploy_check_warns_when_tls_settings_are_off():
    env = production_env(SECURE_SSL_REDIRECT="False", SECURE_HSTS_SECONDS="0")
    result = run_django(["check", "--deploy", "--fail-level", "WARNING"], **env)
    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout
    assert "security.W008" in result.stderr + result.stdout


def test_database_connections_are_reused_and_health_checked(settings):
    database = settings.DATABASES["default"]
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert database["CONN_MAX_AGE"] > 0
    assert database["CONN_HEALTH_CHECKS"] is True


def test_cache_ignores_a_redis_outage(settings):
    from django.core.cache import cache

    settings.CACHES = {
        "default": {
            **settings.CACHES["default"],
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    cache.set("outage-key", "value")
    assert cache.get("outage-key") is None
    assert cache.get("outage-key", "fallback") == "fallback"


@pytest.mark.parametrize(
    "env",
    [{"HLS_SIGNED_URL_SECONDS": "0"}, {"HLS_SIGNED_URL_WINDOW_SECONDS": "0"}],
    ids=["lifetime", "window"],
)
def test_a_signed_url_lifetime_or_window_that_cannot_work_stops_start_up(env):
    result = run_django(["check"], DEBUG="True", **env)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "HLS_SIGNED_URL_SECONDS must be at least 60 and HLS_SIGNED_URL_WINDOW_SECONDS at least 1."
    )


def test_production_refuses_a_short_hls_signing_key():
    result = run_django(["check"], **production_env(HLS_SIGNING_KEY="too-short"))
    assert result.returncode == 1
    assert "HLS_SIGNING_KEY is shorter than 32 characters" in result.stderr


@pytest.mark.parametrize(
    ("overrides", "sentence"),
    [
        ({"MEDIA_STORAGE": "nfs"}, "MEDIA_STORAGE must be 'local' or 's3'"),
        ({"MEDIA_STORAGE": "s3"}, "MEDIA_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME"),
        ({"MEDIA_STORAGE": "s3", "AWS_STORAGE_BUCKET_NAME": "media"}, "has no AWS_ACCESS_KEY_ID"),
        (
            {
                "MEDIA_STORAGE": "s3",
                "AWS_STORAGE_BUCKET_NAME": "media",
                "AWS_ACCESS_KEY_ID": "key",
                "AWS_SECRET_ACCESS_KEY": "secret",
                "HLS_SIGNED_URL_SECONDS": str(8 * 24 * 3600),
            },
            "within seven days",
        ),
    ],
    ids=["unknown-backend", "no-bucket", "no-credentials", "signature-too-long"],
)
def test_production_refuses_unsafe_media_storage_settings(overrides, sentence):
    result = run_django(["check"], **production_env(**overrides))
    assert result.returncode == 1
    assert sentence in result.stderr


def test_production_starts_with_a_complete_s3_configuration():
    env = production_env(
        MEDIA_STORAGE="s3",
        AWS_STORAGE_BUCKET_NAME="media",
        AWS_ACCESS_KEY_ID="key",
        AWS_SECRET_ACCESS_KEY="secret",
        AWS_S3_ENDPOINT_URL="http://127.0.0.1:1",
    )
    result = run_django(
        ["shell", "-c", "from django.conf import settings; print(settings.STORAGES['default'])"], **env
    )
    assert result.returncode == 0, result.stderr
    assert "storages.backends.s3.S3Storage" in result.stdout
