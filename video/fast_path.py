"""A fast path for HLS segments, in front of Django (a WSGI middleware, see core/wsgi.py).

A player asks for a segment every few seconds, and Django's request cycle for it (middleware, URL
resolution, DRF, JWT validation, the user query, the video query) costs about a millisecond of
Python, several times what the kernel needs to send the file. This layer answers the common
request itself: a plain ``GET`` of a segment, credentials that simplejwt accepts for an active
user, a ready video, a rung it has and a segment name its playlist lists. It sends the same
status, headers and bytes that Django would (tests/video/test_streaming_fast_path.py compares
them), with ``sendfile(2)`` in ``django`` mode or an ``X-Accel-Redirect`` in ``x-accel`` mode.

Everything else goes to Django unchanged and is answered exactly as without this layer: missing
or refused credentials, ``HEAD``, ``Range`` and conditional headers, an origin that is not listed
verbatim in CORS_ALLOWED_ORIGINS, a host that ALLOWED_HOSTS refuses, plain HTTP when
SECURE_SSL_REDIRECT is on, any name that is not a listed segment, and any error. Errors, 206 and
304 answers therefore always come from Django.

Per process, a token that passed simplejwt's checks and the user lookup is trusted again for
HLS_FAST_PATH_CACHE_SECONDS (never beyond its own expiry), and a video's ready rungs are reused for
as long: deactivating a user or unpublishing a video reaches segments within that many seconds.
The layer switches itself off when the middleware list contains anything it does not know the
headers of, and HLS_FAST_PATH=false switches it off by configuration.
"""

import logging
import re
import time
from wsgiref.util import FileWrapper

from corsheaders.conf import conf as cors_settings
from django.conf import settings
from django.http.cookie import parse_cookie
from django.http.request import split_domain_port, validate_host
from django.urls import reverse
from rest_framework import HTTP_HEADER_ENCODING
from rest_framework.exceptions import APIException
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from authentication.authentication import CookieOrBearerJWTAuthentication
from authentication.cookies import ACCESS_COOKIE
from video import selectors, streaming
from video.cache import MISSING, LocalMemo

logger = logging.getLogger(__name__)

# The middleware whose effect on a successful segment answer is reproduced below; with any other
# entry in MIDDLEWARE the fast path stays off rather than risk answering differently.
KNOWN_MIDDLEWARE = frozenset(
    {
        "django.middleware.security.SecurityMiddleware",
        "whitenoise.middleware.WhiteNoiseMiddleware",
        "corsheaders.middleware.CorsMiddleware",
        "core.middleware.ApiJsonErrorMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
    }
)
# Any of these makes the answer something other than a plain 200 of the whole file.
DJANGO_ONLY_HEADERS = (
    "HTTP_RANGE",
    "HTTP_IF_RANGE",
    "HTTP_IF_MATCH",
    "HTTP_IF_NONE_MATCH",
    "HTTP_IF_MODIFIED_SINCE",
    "HTTP_IF_UNMODIFIED_SINCE",
)
# What Django's CSRF middleware accepts as a cookie (a 32-character secret or a 64-character
# masked one); it replaces anything else, which only Django's answer can do.
CSRF_COOKIE_FORMAT = re.compile(r"[A-Za-z0-9]{32}|[A-Za-z0-9]{64}")
# DRF's Allow header for the segment views.
ALLOW = "GET, HEAD, OPTIONS"
TOKEN_MEMO_SIZE = 4096
VIDEO_MEMO_SIZE = 1024
HOST_MEMO_SIZE = 64


def fast_path_disabled_reason() -> str | None:
    """Why the fast path cannot run with these settings, or None when it can."""
    if not getattr(settings, "HLS_FAST_PATH", True):
        return "HLS_FAST_PATH is off"
    unknown = [name for name in settings.MIDDLEWARE if name not in KNOWN_MIDDLEWARE]
    if unknown:
        return f"unknown middleware {', '.join(unknown)}"
    if settings.PREPEND_WWW or settings.DISALLOWED_USER_AGENTS or settings.USE_X_FORWARDED_HOST:
        return "PREPEND_WWW, DISALLOWED_USER_AGENTS or USE_X_FORWARDED_HOST is set"
    if settings.CSRF_USE_SESSIONS:
        return "CSRF_USE_SESSIONS is set"
    return None


def with_segment_fast_path(application):
    """``application`` behind the segment fast path, or unchanged when the settings rule it out."""
    reason = fast_path_disabled_reason()
    if reason:
        logger.info("HLS segment fast path off: %s.", reason)
        return application
    return SegmentFastPath(application)


class SegmentFastPath:
    """WSGI middleware: answers authorised plain GETs of listed segments, passes the rest on."""

    def __init__(self, application):
        self.application = application
        # Built from the URLconf, so a moved route moves the fast path with it.
        example = reverse("video:segment", kwargs={"video_id": 1, "resolution": "480p", "segment": "000.ts"})
        prefix = example.removesuffix("1/480p/000.ts")
        self.path = re.compile(
            re.escape(prefix)
            + rf"([1-9][0-9]{{0,17}})/({streaming.RUNG_NAME.pattern})/({streaming.SEGMENT_NAME.pattern})/?"
        )
        self.cache_seconds = max(int(getattr(settings, "HLS_FAST_PATH_CACHE_SECONDS", 0)), 0)
        self.accel = streaming.serve_mode() == streaming.SERVE_MODE_X_ACCEL
        self.tokens = LocalMemo(size=TOKEN_MEMO_SIZE)
        self.videos = LocalMemo(size=VIDEO_MEMO_SIZE)
        self.security = "django.middleware.security.SecurityMiddleware" in settings.MIDDLEWARE
        self.headers = self._constant_headers()
        self.cors = "corsheaders.middleware.CorsMiddleware" in settings.MIDDLEWARE
        self.cors_origins = frozenset(cors_settings.CORS_ALLOWED_ORIGINS)
        self.cors_paths = re.compile(cors_settings.CORS_URLS_REGEX)
        self.cors_all_origins = cors_settings.CORS_ALLOW_ALL_ORIGINS
        self.cors_headers = []
        if cors_settings.CORS_ALLOW_CREDENTIALS:
            self.cors_headers.append(("Access-Control-Allow-Credentials", "true"))
        if cors_settings.CORS_EXPOSE_HEADERS:
            exposed = ", ".join(cors_settings.CORS_EXPOSE_HEADERS)
            self.cors_headers.append(("Access-Control-Expose-Headers", exposed))
        self.proxy_ssl_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
        self.ssl_redirect = self.security and settings.SECURE_SSL_REDIRECT
        self.hsts = self._hsts() if self.security and settings.SECURE_HSTS_SECONDS else None
        self.allowed_hosts = list(settings.ALLOWED_HOSTS)
        if settings.DEBUG and not self.allowed_hosts:
            self.allowed_hosts = [".localhost", "127.0.0.1", "[::1]"]
        self.hosts = LocalMemo(size=HOST_MEMO_SIZE)
        self.hls_root = streaming.hls_root()
        self.authentication = CookieOrBearerJWTAuthentication()

    def __call__(self, environ, start_response):
        try:
            answer = self._answer(environ)
        except Exception:  # Django answers whatever this layer cannot
            logger.debug("Segment fast path handed a request to Django after an error.", exc_info=True)
            answer = None
        if answer is None:
            return self.application(environ, start_response)
        headers, body = answer
        start_response("200 OK", headers)
        return body

    # --- The checks, in Django's order: host, TLS redirect, credentials, video, names ----------

    def _answer(self, environ):
        if environ.get("REQUEST_METHOD") != "GET":
            return None
        path = environ.get("PATH_INFO", "")
        match = self.path.fullmatch(path)
        if match is None or any(name in environ for name in DJANGO_ONLY_HEADERS):
            return None
        if not self._host_allowed(environ):
            return None
        secure = self._is_secure(environ)
        if self.ssl_redirect and not secure:
            return None
        headers = list(self.headers)
        if self.cors:
            # corsheaders' answer for a path outside CORS_URLS_REGEX can depend on a signal.
            if not self.cors_paths.match(path):
                return None
            headers.append(("Vary", "origin"))
            origin = environ.get("HTTP_ORIGIN")
            if origin:
                if origin not in self.cors_origins or self.cors_all_origins:
                    return None
                headers += [("Access-Control-Allow-Origin", origin), *self.cors_headers]
        if secure and self.hsts:
            headers.append(("Strict-Transport-Security", self.hsts))
        if not self._authorised(environ):
            return None

        video_id, rung, segment = int(match[1]), match[2], match[3]
        renditions = self._renditions(video_id)
        if not renditions or rung not in renditions:
            return None
        try:
            file = streaming.locate_listed_segment(self.hls_root, str(video_id), rung, segment)
        except streaming.FileNotServable:
            return None
        with file:
            if self.accel:
                extra = streaming.accel_redirect_headers(file, content_type=streaming.SEGMENT_CONTENT_TYPE)
                headers += [*extra.items(), ("Content-Length", "0")]
                return headers, [b""]
            extra = streaming.file_headers(
                file,
                content_type=streaming.SEGMENT_CONTENT_TYPE,
                cache_control=streaming.private_cache_control(),
            )
            headers += [*extra.items(), ("Content-Length", str(file.size))]
            handle = streaming.open_for_sendfile(file)
        wrapper = environ.get("wsgi.file_wrapper", FileWrapper)
        return headers, wrapper(handle, streaming.STREAM_BLOCK_SIZE)

    def _host_allowed(self, environ) -> bool:
        """Django's ALLOWED_HOSTS check (HttpRequest.get_host), remembered per Host header."""
        host = environ.get("HTTP_HOST")
        if not host:
            return False
        allowed = self.hosts.get(host)
        if allowed is MISSING:
            domain, _port = split_domain_port(host)
            allowed = bool(domain) and validate_host(domain, self.allowed_hosts)
            self.hosts.set(host, allowed)
        return allowed

    def _is_secure(self, environ) -> bool:
        if self.proxy_ssl_header:
            header, secure_value = self.proxy_ssl_header
            value = environ.get(header)
            if value is not None:
                return value.split(",", 1)[0].strip() == secure_value
        return environ.get("wsgi.url_scheme") == "https"

    def _authorised(self, environ) -> bool:
        """simplejwt's own checks for the raw token, reused per process for a few seconds."""
        try:
            raw = self._raw_token(environ)
            if raw is None:
                return False
            known = self.tokens.get(raw)
            if known is not MISSING and time.time() < known[0] and time.monotonic() < known[1]:
                return True
            token = self.authentication.get_validated_token(raw)
            self.authentication.get_user(token)
        except APIException:  # simplejwt's InvalidToken and AuthenticationFailed
            return False
        if self.cache_seconds:
            self.tokens.set(raw, (float(token["exp"]), time.monotonic() + self.cache_seconds))
        return True

    def _raw_token(self, environ) -> bytes | str | None:
        """The token CookieOrBearerJWTAuthentication would take: from the Authorization header
        when simplejwt recognises its type, else from the access cookie."""
        header = environ.get(jwt_settings.AUTH_HEADER_NAME)
        if header is not None:
            raw = self.authentication.get_raw_token(header.encode(HTTP_HEADER_ENCODING))
            if raw is not None:
                return raw
        cookies = environ.get("HTTP_COOKIE")
        if not cookies:
            return None
        jar = parse_cookie(cookies)
        csrf = jar.get(settings.CSRF_COOKIE_NAME)
        if csrf is not None and not CSRF_COOKIE_FORMAT.fullmatch(csrf):
            return None  # Django's CSRF middleware answers with a fresh cookie
        return jar.get(ACCESS_COOKIE) or None

    def _renditions(self, video_id: int) -> list[str] | None:
        known = self.videos.get(video_id)
        if known is not MISSING and time.monotonic() < known[1]:
            return known[0]
        renditions = selectors.video_ready_renditions(video_id=video_id)
        if self.cache_seconds:
            self.videos.set(video_id, (renditions, time.monotonic() + self.cache_seconds))
        return renditions

    # --- Headers Django's middleware adds to every successful answer ----------------------------

    def _constant_headers(self) -> list[tuple[str, str]]:
        headers = [("Allow", ALLOW)]
        if "django.middleware.clickjacking.XFrameOptionsMiddleware" in settings.MIDDLEWARE:
            headers.append(("X-Frame-Options", getattr(settings, "X_FRAME_OPTIONS", "DENY").upper()))
        if self.security:
            if settings.SECURE_CONTENT_TYPE_NOSNIFF:
                headers.append(("X-Content-Type-Options", "nosniff"))
            policy = settings.SECURE_REFERRER_POLICY
            if policy:
                values = policy.split(",") if isinstance(policy, str) else policy
                headers.append(("Referrer-Policy", ",".join(value.strip() for value in values)))
            if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
                headers.append(("Cross-Origin-Opener-Policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY))
        return headers

    @staticmethod
    def _hsts() -> str:
        value = f"max-age={settings.SECURE_HSTS_SECONDS}"
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
            value += "; includeSubDomains"
        if settings.SECURE_HSTS_PRELOAD:
            value += "; preload"
        return value
