"""Cost of the per-request token checks, and password-reset timing for known and unknown addresses.

    .venv/bin/python bench/auth_checks.py [--rounds 3000]

In one process, against the real PostgreSQL and Redis: creates the database vf_bench_auth
(dropped at the end) on DB_HOST/DB_USER (default 127.0.0.1, postgres) and uses Redis databases
10 (queues) and 11 (cache) on REDIS_HOST (default 127.0.0.1). Rows, each timed per call with the
two sides of a comparison interleaved so that the machine's load weighs on both:

  auth-simplejwt  simplejwt's own JWTAuthentication.authenticate of a Bearer request: signature,
                  claims, the user query (and the password-hash claim compare, CHECK_REVOKE_TOKEN)
  auth-videoflix  the project's CookieOrBearerJWTAuthentication.authenticate of the same request:
                  the above plus the duplicated-cookie rule and the session's logout (one Redis GET)
  redis-get       that GET alone (authentication.sessions.session_is_revoked)
  reset-known     POST /api/password_reset/ for an active account (Django test client, all middleware)
  reset-unknown   the same for an address without an account

Bars (exit status 1 when one is missed): the revocation checks add at most 0.5 ms to the median
authentication, and the medians of reset-known and reset-unknown differ by at most 0.25 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))

from bench.common import Table, drop_environment, prepare_environment  # noqa: E402 - after sys.path

AUTH_EXTRA_BAR_MS = 0.5
RESET_GAP_BAR_MS = 0.25
PASSWORD = "Bench-Sturdy-Passw0rd!"


def _timed(call) -> float:
    started = time.perf_counter_ns()
    call()
    return (time.perf_counter_ns() - started) / 1e6


def _interleaved(rounds: int, calls: dict) -> dict[str, list[float]]:
    """Milliseconds per call of each named callable, taking turns, after a short warm-up."""
    for call in calls.values():
        for _ in range(50):
            call()
    samples = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            samples[name].append(_timed(call))
    return samples


def _auth_samples(rounds: int) -> dict[str, list[float]]:
    from django.test import RequestFactory
    from rest_framework_simplejwt.authentication import JWTAuthentication

    from authentication import services
    from authentication.authentication import CookieOrBearerJWTAuthentication
    from authentication.models import User
    from authentication.sessions import SESSION_CLAIM, session_is_revoked

    user = User.objects.create_user(email="bench@example.com", password=PASSWORD, is_active=True)
    _, refresh = services.user_login(request=RequestFactory().post("/"), email=user.email, password=PASSWORD)
    access = refresh.access_token
    request = RequestFactory().get("/api/video/", HTTP_AUTHORIZATION=f"Bearer {access}")
    simplejwt, videoflix = JWTAuthentication(), CookieOrBearerJWTAuthentication()
    assert videoflix.authenticate(request)[0] == simplejwt.authenticate(request)[0] == user
    return _interleaved(
        rounds,
        {
            "auth-simplejwt": lambda: simplejwt.authenticate(request),
            "auth-videoflix": lambda: videoflix.authenticate(request),
            "redis-get": lambda: session_is_revoked(session_id=access[SESSION_CLAIM]),
        },
    )


def _reset_samples(rounds: int) -> dict[str, list[float]]:
    from django.test import Client

    from authentication.models import User

    User.objects.create_user(email="known@example.com", password=PASSWORD, is_active=True)
    client = Client()

    def reset(email: str):
        def post():
            response = client.post("/api/password_reset/", {"email": email}, content_type="application/json")
            assert response.status_code == 200, response.content

        return post

    return _interleaved(
        rounds, {"reset-known": reset("known@example.com"), "reset-unknown": reset("nobody@example.com")}
    )


def _median(samples: list[float]) -> float:
    return statistics.median(samples)


def _report(samples: dict[str, list[float]]) -> bool:
    table = Table(["row", "calls", "median ms", "p95 ms"])
    for name, values in samples.items():
        p95 = statistics.quantiles(values, n=20)[-1]
        table.add(name, len(values), f"{_median(values):.3f}", f"{p95:.3f}")
    table.print()
    extra = _median(samples["auth-videoflix"]) - _median(samples["auth-simplejwt"])
    gap = abs(_median(samples["reset-known"]) - _median(samples["reset-unknown"]))
    bars = [
        (f"revocation checks add {extra:.3f} ms to the median (bar {AUTH_EXTRA_BAR_MS} ms)", extra),
        (f"reset known/unknown medians differ by {gap:.3f} ms (bar {RESET_GAP_BAR_MS} ms)", gap),
    ]
    print()
    met = True
    for (text, value), bar in zip(bars, (AUTH_EXTRA_BAR_MS, RESET_GAP_BAR_MS), strict=True):
        print(("met     " if value <= bar else "MISSED  ") + text)
        met = met and value <= bar
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3000)
    args = parser.parse_args()
    env = prepare_environment(
        db_name="vf_bench_auth",
        redis_db=10,
        cache_db=11,
        media_root=Path(tempfile.mkdtemp(prefix="vf-bench-auth-")),
        extra={"ALLOWED_HOSTS": "testserver", "THROTTLE_PASSWORD_RESET_IP": "1000000/hour"},
    )
    os.environ.update(env)
    import django

    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connections

    try:
        call_command("migrate", verbosity=0)
        samples = {**_auth_samples(args.rounds), **_reset_samples(args.rounds)}
    finally:
        cache.clear()
        connections.close_all()
        drop_environment(env)
    return 0 if _report(samples) else 1


if __name__ == "__main__":
    sys.exit(main())
