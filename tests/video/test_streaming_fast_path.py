"""The segment fast path (video/fast_path.py) in front of Django.

Every answer is compared with Django's own answer for the same request: the fast path must either
answer exactly as Django would (status, headers and bytes) or hand the request to Django. The
WSGI applications are called in-process, against the real test database and files.
"""

import re
import time
from datetime import timedelta

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.middleware.csrf import get_token
from django.test.client import RequestFactory
from rest_framework_simplejwt.tokens import AccessToken

from tests.factories import UserFactory
from tests.video import fixtures_streaming
from tests.video.fixtures_streaming import RecordingFileWrapper, call_wsgi, segment_payload
from video import fast_path
from video.models import Video

hls_video = fixtures_streaming.hls_video
SPA = "http://localhost:5500"
SEGMENT = "/api/video/{id}/480p/001.ts"

pytestmark = pytest.mark.django_db


class CountingDjango:
    """Django's WSGI handler, counting the requests the fast path handed to it."""

    def __init__(self):
        self.handler = WSGIHandler()
        self.calls = 0

    def __call__(self, environ, start_response):
        self.calls += 1
        return self.handler(environ, start_response)


def both(path: str, method: str = "GET", **headers):
    """The fast path's answer, whether Django answered it, and Django's own answer."""
    django = CountingDjango()
    fast = fast_path.SegmentFastPath(django)
    answered = call_wsgi(fast, path, method, **headers)
    expected = call_wsgi(WSGIHandler(), path, method, **headers)
    return answered, django.calls, expected


def bearer(user) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {AccessToken.for_user(user)}"}


def without_fresh_csrf_token(headers: dict) -> dict:
    # Django sets a new random CSRF cookie in place of a malformed one: compare all but its value.
    return {name: re.sub(r"csrftoken=\w+", "csrftoken=*", value) for name, value in headers.items()}


def assert_same(answered, expected):
    status, headers, body, _ = answered
    assert status == expected[0]
    assert without_fresh_csrf_token(headers) == without_fresh_csrf_token(expected[1])
    assert body == expected[2]


# --- Answered by the fast path, exactly as Django answers -------------------------------------


@pytest.mark.parametrize(
    "scenario", ["bearer", "cookie", "trailing-slash", "spa-origin", "https-behind-proxy", "x-accel"]
)
def test_fast_path_answers_a_listed_segment_exactly_as_django_does(user, hls_video, settings, scenario):
    path = f"/api/video/{hls_video.pk}/480p/001.ts"
    headers = bearer(user)
    if scenario == "cookie":
        csrf = get_token(RequestFactory().get("/"))
        session = "sessionid=abcdefghijklmnopqrstuvwxyz012345"
        headers = {"HTTP_COOKIE": f"csrftoken={csrf}; {session}; access_token={AccessToken.for_user(user)}"}
    elif scenario == "trailing-slash":
        path += "/"
    elif scenario == "spa-origin":
        settings.CORS_ALLOWED_ORIGINS = [SPA]
        headers["HTTP_ORIGIN"] = SPA
    elif scenario == "https-behind-proxy":
        settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
        settings.SECURE_SSL_REDIRECT = True
        settings.SECURE_HSTS_SECONDS = 31536000
        settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
        headers["HTTP_X_FORWARDED_PROTO"] = "https"
    elif scenario == "x-accel":
        settings.HLS_SERVE_MODE = "x-accel"

    answered, django_calls, expected = both(path, **headers)

    assert django_calls == 0
    assert answered[0] == 200
    assert_same(answered, expected)
    if scenario == "x-accel":
        assert answered[1]["x-accel-redirect"] == f"/protected-hls/{hls_video.pk}/480p/001.ts"
        assert answered[2] == b""
    else:
        assert answered[1]["content-type"] == "video/MP2T"
        assert answered[2] == segment_payload("480p", 1)
        # The bytes go to the server's file wrapper (sendfile), from the first byte.
        assert isinstance(answered[3], RecordingFileWrapper) and answered[3].offset == 0
    if scenario == "spa-origin":
        assert answered[1]["access-control-allow-origin"] == SPA
        assert answered[1]["access-control-allow-credentials"] == "true"
    if scenario == "https-behind-proxy":
        assert answered[1]["strict-transport-security"] == "max-age=31536000; includeSubDomains"


def test_a_cached_authorisation_answers_without_any_query(user, hls_video, django_assert_num_queries):
    fast = fast_path.SegmentFastPath(CountingDjango())
    headers = bearer(user)
    assert call_wsgi(fast, f"/api/video/{hls_video.pk}/480p/000.ts", **headers)[0] == 200
    with django_assert_num_queries(0):
        status, _, body, _ = call_wsgi(fast, f"/api/video/{hls_video.pk}/480p/002.ts", **headers)
    assert (status, body) == (200, segment_payload("480p", 2))


# --- Handed to Django, which answers as without the fast path ---------------------------------


def inactive_user_token(_user):
    inactive = UserFactory(is_active=False)
    return {"HTTP_AUTHORIZATION": f"Bearer {AccessToken.for_user(inactive)}"}


def expired_token(user):
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-AccessToken.lifetime - AccessToken.lifetime)
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def forged_token(user):
    return {"HTTP_AUTHORIZATION": f"Bearer {str(AccessToken.for_user(user))[:-2]}xx"}


@pytest.mark.parametrize(
    ("case", "path", "credentials", "extra", "status"),
    [
        ("no credentials", SEGMENT, lambda user: {}, {}, 401),
        ("inactive user", SEGMENT, inactive_user_token, {}, 401),
        ("expired token", SEGMENT, expired_token, {}, 401),
        ("forged signature", SEGMENT, forged_token, {}, 401),
        (
            "malformed csrf cookie",
            SEGMENT,
            lambda user: {"HTTP_COOKIE": f"csrftoken=abc; access_token={AccessToken.for_user(user)}"},
            {},
            200,
        ),
        ("basic auth", SEGMENT, lambda user: {"HTTP_AUTHORIZATION": "Basic eDp5"}, {}, 401),
        ("range", SEGMENT, bearer, {"HTTP_RANGE": "bytes=0-99"}, 206),
        ("if-range", SEGMENT, bearer, {"HTTP_IF_RANGE": '"x"', "HTTP_RANGE": "bytes=0-9"}, 200),
        ("if-none-match", SEGMENT, bearer, {"HTTP_IF_NONE_MATCH": "*"}, 304),
        ("if-match", SEGMENT, bearer, {"HTTP_IF_MATCH": '"other"'}, 412),
        ("unknown video", "/api/video/999999/480p/001.ts", bearer, {}, 404),
        ("rung not produced", "/api/video/{id}/720p/001.ts", bearer, {}, 404),
        ("segment not listed", "/api/video/{id}/480p/007.ts", bearer, {}, 404),
        ("not a segment name", "/api/video/{id}/480p/index.m3u8x", bearer, {}, 404),
        ("dot-dot rung", "/api/video/{id}/../480p/001.ts", bearer, {}, 404),
        ("encoded dot-dot", "/api/video/{id}/480p/%2e%2e%2f001.ts", bearer, {}, 404),
        ("backslash", "/api/video/{id}/480p/..%5c001.ts", bearer, {}, 404),
        ("nul byte", "/api/video/{id}/480p/001.ts%00", bearer, {}, 404),
        ("unknown origin", SEGMENT, bearer, {"HTTP_ORIGIN": "https://evil.example"}, 200),
        ("disallowed host", SEGMENT, bearer, {"HTTP_HOST": "evil.example"}, 400),
    ],
)
def test_anything_else_is_answered_by_django(user, hls_video, case, path, credentials, extra, status):
    headers = {**credentials(user), **extra}
    answered, django_calls, expected = both(path.format(id=hls_video.pk), **headers)

    assert django_calls == 1, case
    assert answered[0] == status, case
    assert_same(answered, expected)
    if status >= 400:
        assert answered[1]["content-type"] == "application/json"


def test_head_is_answered_by_django(user, hls_video):
    answered, django_calls, expected = both(f"/api/video/{hls_video.pk}/480p/001.ts", "HEAD", **bearer(user))
    assert django_calls == 1
    assert answered[0] == expected[0] == 200
    assert answered[1] == expected[1]


def test_plain_http_goes_to_django_for_the_tls_redirect(user, hls_video, settings):
    settings.SECURE_SSL_REDIRECT = True
    answered, django_calls, expected = both(f"/api/video/{hls_video.pk}/480p/001.ts", **bearer(user))
    assert django_calls == 1
    assert answered[0] == 301 and answered[1]["location"].startswith("https://")
    assert_same(answered, expected)


def test_a_video_that_is_not_ready_is_answered_by_django(user, hls_video):
    Video.objects.filter(pk=hls_video.pk).update(status=Video.Status.PROCESSING)
    answered, django_calls, expected = both(f"/api/video/{hls_video.pk}/480p/001.ts", **bearer(user))
    assert django_calls == 1
    assert answered[0] == 404
    assert_same(answered, expected)


def test_a_symlinked_segment_is_not_followed(user, hls_video, settings, tmp_path):
    secret = tmp_path / "secret.ts"
    secret.write_bytes(b"not a segment of this video")
    segment = settings.MEDIA_ROOT / "hls" / str(hls_video.pk) / "480p" / "001.ts"
    segment.unlink()
    segment.symlink_to(secret)
    answered, django_calls, _ = both(f"/api/video/{hls_video.pk}/480p/001.ts", **bearer(user))
    assert django_calls == 1
    assert answered[0] == 404 and b"not a segment" not in answered[2]


# --- What is reused, and for how long ---------------------------------------------------------


class Clock:
    def __init__(self):
        self.wall, self.steady = time.time(), 1000.0

    def time(self):
        return self.wall

    def monotonic(self):
        return self.steady

    def advance(self, seconds: float):
        self.wall += seconds
        self.steady += seconds


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(fast_path, "time", fake)
    return fake


def test_a_deactivated_user_is_refused_once_the_cached_check_expires(user, hls_video, settings, clock):
    settings.HLS_FAST_PATH_CACHE_SECONDS = 5
    django = CountingDjango()
    fast = fast_path.SegmentFastPath(django)
    path, headers = f"/api/video/{hls_video.pk}/480p/001.ts", bearer(user)
    assert call_wsgi(fast, path, **headers)[0] == 200

    user.is_active = False
    user.save(update_fields=["is_active"])
    clock.advance(4)
    assert call_wsgi(fast, path, **headers)[0] == 200  # within HLS_FAST_PATH_CACHE_SECONDS
    clock.advance(2)
    status, _, body, _ = call_wsgi(fast, path, **headers)
    assert status == 401 and b"detail" in body
    assert django.calls == 1


def test_an_unpublished_video_stops_streaming_once_the_cached_check_expires(user, hls_video, settings, clock):
    settings.HLS_FAST_PATH_CACHE_SECONDS = 5
    fast = fast_path.SegmentFastPath(CountingDjango())
    path, headers = f"/api/video/{hls_video.pk}/480p/001.ts", bearer(user)
    assert call_wsgi(fast, path, **headers)[0] == 200
    Video.objects.filter(pk=hls_video.pk).update(status=Video.Status.FAILED)
    clock.advance(6)
    assert call_wsgi(fast, path, **headers)[0] == 404


def test_a_cached_token_is_never_used_past_its_expiry(user, hls_video, settings):
    settings.HLS_FAST_PATH_CACHE_SECONDS = 3600
    fast = fast_path.SegmentFastPath(CountingDjango())
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=timedelta(seconds=2))
    path, headers = f"/api/video/{hls_video.pk}/480p/001.ts", {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    assert call_wsgi(fast, path, **headers)[0] == 200
    time.sleep(2.5)
    assert call_wsgi(fast, path, **headers)[0] == 401


def test_with_no_cache_every_request_checks_the_user_again(user, hls_video, settings):
    settings.HLS_FAST_PATH_CACHE_SECONDS = 0
    fast = fast_path.SegmentFastPath(CountingDjango())
    path, headers = f"/api/video/{hls_video.pk}/480p/001.ts", bearer(user)
    assert call_wsgi(fast, path, **headers)[0] == 200
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert call_wsgi(fast, path, **headers)[0] == 401


# --- When it is on ----------------------------------------------------------------------------


def test_the_fast_path_is_on_with_the_shipped_settings():
    django = WSGIHandler()
    assert isinstance(fast_path.with_segment_fast_path(django), fast_path.SegmentFastPath)


def test_the_fast_path_can_be_switched_off(settings):
    settings.HLS_FAST_PATH = False
    django = WSGIHandler()
    assert fast_path.with_segment_fast_path(django) is django


def test_an_unknown_middleware_switches_the_fast_path_off(settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "django.middleware.gzip.GZipMiddleware"]
    django = WSGIHandler()
    assert fast_path.with_segment_fast_path(django) is django
    assert "GZipMiddleware" in fast_path.fast_path_disabled_reason()
