"""Videoflix settings: the one settings module, read from the environment.

Every value comes from an environment variable (or `.env`, loaded by python-dotenv) through
python-decouple's `config`. Defaults suit local development; `.env.example` and the README
table list every variable.
"""

import sys
from datetime import timedelta
from pathlib import Path

from botocore.config import Config as BotoConfig
from decouple import Csv, config
from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent.parent

# Values already in the environment win over `.env`, so a container's or CI's variables hold.
# While `make run` runs embedded PostgreSQL/Redis it writes their addresses to .local/servers.env
# (and removes it when it stops), so manage.py commands started by hand reach the same servers.
load_dotenv(BASE_DIR / ".local" / "servers.env", override=False)
load_dotenv(BASE_DIR / ".env", override=False)

DEBUG = config("DEBUG", default=True, cast=bool)

_DEV_SECRET_KEY = "django-insecure-dev-only-key-never-use-in-production"  # noqa: S105 - refused without DEBUG


def _unsafe_secret_key(key: str) -> bool:
    """Empty, a development/placeholder value, or too short to be a real secret."""
    return not key or key.startswith("django-insecure") or "change-me" in key.lower() or len(key) < 50


SECRET_KEY = config("SECRET_KEY", default="")
if _unsafe_secret_key(SECRET_KEY):
    if not DEBUG:
        sys.exit(
            "Refusing to start: DEBUG is false and SECRET_KEY is missing, a placeholder or shorter than "
            "50 characters; set SECRET_KEY to a long random value."
        )
    SECRET_KEY = SECRET_KEY or _DEV_SECRET_KEY

ALLOWED_HOSTS = config("ALLOWED_HOSTS", default="localhost,127.0.0.1", cast=Csv())
CSRF_TRUSTED_ORIGINS = config(
    "CSRF_TRUSTED_ORIGINS", default="http://localhost:5500,http://127.0.0.1:5500", cast=Csv()
)
CORS_ALLOWED_ORIGINS = config(
    "CORS_ALLOWED_ORIGINS", default="http://localhost:5500,http://127.0.0.1:5500", cast=Csv()
)
CORS_ALLOW_CREDENTIALS = True

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_rq",
    "core",
    "authentication",
    "video",
]

MIDDLEWARE = [
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
]

ROOT_URLCONF = "core.urls"
WSGI_APPLICATION = "core.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# The defaults are a local development server (Compose sets DB_HOST and the role from `.env`).
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": config("DB_NAME", default="videoflix"),
        "USER": config("DB_USER", default="postgres"),
        "PASSWORD": config("DB_PASSWORD", default=""),
        "HOST": config("DB_HOST", default="127.0.0.1"),
        "PORT": config("DB_PORT", default=5432, cast=int),
        # Persistent connections, checked before each request so a restarted server is survived.
        "CONN_MAX_AGE": config("DB_CONN_MAX_AGE", default=60, cast=int),
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {"connect_timeout": config("DB_CONNECT_TIMEOUT", default=5, cast=int)},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "authentication.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_RESET_TIMEOUT = config("PASSWORD_RESET_TIMEOUT", default=60 * 60 * 24, cast=int)
ACCOUNT_ACTIVATION_TIMEOUT = config("ACCOUNT_ACTIVATION_TIMEOUT", default=60 * 60 * 24 * 3, cast=int)

# --- Redis: RQ queues and the django-redis cache ----------------------------------------------
REDIS_HOST = config("REDIS_HOST", default="127.0.0.1")
REDIS_PORT = config("REDIS_PORT", default=6379, cast=int)
REDIS_DB = config("REDIS_DB", default=0, cast=int)
REDIS_LOCATION = config("REDIS_LOCATION", default=f"redis://{REDIS_HOST}:{REDIS_PORT}/1")

_rq_connection = {
    "HOST": REDIS_HOST,
    "PORT": REDIS_PORT,
    "DB": REDIS_DB,
    "SOCKET_CONNECT_TIMEOUT": 3,
    "SOCKET_TIMEOUT": 10,
}
RQ_QUEUES = {
    # Emails and other short jobs.
    "default": {**_rq_connection, "DEFAULT_TIMEOUT": 300},
    # Transcoding: long jobs, listened to by the same worker after `default`.
    "transcode": {
        **_rq_connection,
        "DEFAULT_TIMEOUT": config("VIDEO_JOB_TIMEOUT", default=6 * 3600, cast=int),
    },
}
RQ_SHOW_ADMIN_LINK = True
# Seconds between a worker's maintenance runs (RQ's registry cleanup and the stale-video sweep).
RQ_MAINTENANCE_INTERVAL = config("RQ_MAINTENANCE_INTERVAL", default=60, cast=int)
# The worker class adds the video pipeline's stale-job sweep to RQ's periodic maintenance.
RQ = {"WORKER_CLASS": "video.pipeline.tasks.VideoflixWorker"}

CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_LOCATION,
        "KEY_PREFIX": "videoflix",
        "TIMEOUT": config("CACHE_TTL", default=300, cast=int),
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "SOCKET_CONNECT_TIMEOUT": 1,
            "SOCKET_TIMEOUT": 1,
            # A Redis outage degrades to cache misses instead of failing requests.
            "IGNORE_EXCEPTIONS": True,
        },
    }
}
DJANGO_REDIS_IGNORE_EXCEPTIONS = True
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True

# --- Internationalisation ---------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static and media -------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(config("STATIC_ROOT", default=str(BASE_DIR / "static")))
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(config("MEDIA_ROOT", default=str(BASE_DIR / "media")))
# Where sources, thumbnails and HLS output live: "local" (MEDIA_ROOT, one disk that web and worker
# share) or "s3" (a bucket of an S3-compatible store; web and workers need no shared disk). With
# "s3", MEDIA_ROOT only holds a worker's scratch files while it transcodes (docs/STREAMING.md).
MEDIA_STORAGE = config("MEDIA_STORAGE", default="local").strip().lower()
if MEDIA_STORAGE not in ("local", "s3"):
    sys.exit(f"MEDIA_STORAGE must be 'local' or 's3', not {MEDIA_STORAGE!r}.")
# The S3 store, in django-storages' own names (storages.backends.s3.S3Storage on boto3).
AWS_STORAGE_BUCKET_NAME = config("AWS_STORAGE_BUCKET_NAME", default="")
AWS_S3_ENDPOINT_URL = config("AWS_S3_ENDPOINT_URL", default="") or None
AWS_ACCESS_KEY_ID = config("AWS_ACCESS_KEY_ID", default="")
AWS_SECRET_ACCESS_KEY = config("AWS_SECRET_ACCESS_KEY", default="")
AWS_S3_REGION_NAME = config("AWS_S3_REGION_NAME", default="us-east-1")
# What viewers reach the store through (host[:port] of its nginx front or a CDN that passes Host,
# path and query on to the store): segment URLs are signed for it. Empty: AWS_S3_ENDPOINT_URL.
AWS_S3_CUSTOM_DOMAIN = config("AWS_S3_CUSTOM_DOMAIN", default="") or None
AWS_S3_URL_PROTOCOL = config("AWS_S3_URL_PROTOCOL", default="https:")
# Path-style URLs (endpoint/bucket/key) work with every S3-compatible store and need no DNS names.
AWS_S3_ADDRESSING_STYLE = config("AWS_S3_ADDRESSING_STYLE", default="path")
AWS_S3_SIGNATURE_VERSION = "s3v4"
AWS_DEFAULT_ACL = None  # the bucket stays private; every read is signed
AWS_QUERYSTRING_AUTH = True
AWS_S3_FILE_OVERWRITE = True  # names are random (video.models); skip django-storages' HEAD per save
# Short connect timeouts and a few retries: a store that is down is an error in seconds, not minutes.
AWS_S3_CLIENT_CONFIG = BotoConfig(
    signature_version=AWS_S3_SIGNATURE_VERSION,
    s3={"addressing_style": AWS_S3_ADDRESSING_STYLE},
    connect_timeout=config("AWS_S3_CONNECT_TIMEOUT", default=3, cast=int),
    read_timeout=60,
    retries={"max_attempts": 3, "mode": "standard"},
)
if MEDIA_STORAGE == "s3":
    if not AWS_STORAGE_BUCKET_NAME:
        sys.exit("Refusing to start: MEDIA_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME.")
    if not DEBUG and not (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY):
        sys.exit(
            "Refusing to start: DEBUG is false and MEDIA_STORAGE=s3 has no AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY; set the store's credentials."
        )
_MEDIA_BACKENDS = {
    "local": "django.core.files.storage.FileSystemStorage",
    "s3": "storages.backends.s3.S3Storage",
}
# The admin's JavaScript (uploader, live status, preview player), bundled from frontend/src/ with
# the npm libraries by `npm run build` (git-ignored; the Makefile and the image build it).
STATICFILES_DIRS = [BASE_DIR / "frontend" / "dist"]
STORAGES = {
    "default": {"BACKEND": _MEDIA_BACKENDS[MEDIA_STORAGE]},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Uploads larger than this go to a temporary file on disk instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# The first handler stops writing a file to disk once it passes VIDEO_MAX_UPLOAD_MB.
FILE_UPLOAD_HANDLERS = [
    "video.pipeline.uploads.SizeLimitUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
FILE_UPLOAD_PERMISSIONS = 0o644

# --- Django REST framework, JWT, OpenAPI ------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["authentication.authentication.CookieOrBearerJWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.exceptions.api_exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        # Login counts failures only: per client, per (client, address) pair, and failing clients
        # per address (authentication/limits.py).
        "login_ip": config("THROTTLE_LOGIN_IP", default="20/min"),
        "login_pair": config("THROTTLE_LOGIN_PAIR", default="10/hour"),
        "login_email": config("THROTTLE_LOGIN_EMAIL", default="10/hour"),
        # Admin login failures per (username, client address) pair.
        "admin_login": config("THROTTLE_ADMIN_LOGIN", default="5/hour"),
        "register_ip": config("THROTTLE_REGISTER_IP", default="10/hour"),
        "password_reset_ip": config("THROTTLE_PASSWORD_RESET_IP", default="10/hour"),
        # Emails sent per address, silently: the answer stays the same.
        "register_email": config("THROTTLE_REGISTER_EMAIL", default="3/hour"),
        "password_reset_email": config("THROTTLE_PASSWORD_RESET_EMAIL", default="3/hour"),
    },
    "NUM_PROXIES": config("NUM_PROXIES", default=0, cast=int),
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=config("JWT_ACCESS_MINUTES", default=60, cast=int)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=config("JWT_REFRESH_DAYS", default=7, cast=int)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": SECRET_KEY,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    # Tokens carry a hash of the password hash: a password change or reset ends every earlier token.
    "CHECK_REVOKE_TOKEN": True,
}
JWT_COOKIE_SAMESITE = config("JWT_COOKIE_SAMESITE", default="Lax")

SPECTACULAR_SETTINGS = {
    "TITLE": "Videoflix API",
    "DESCRIPTION": "Accounts, catalogue and HLS streaming for the Videoflix SPA.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # API_DOCS_PUBLIC=false restricts /api/schema/ and /api/docs/ to staff: a JWT, or the session
    # of a staff member logged into the admin (a browser opening the docs sends no Bearer header).
    "SERVE_AUTHENTICATION": [
        "authentication.authentication.CookieOrBearerJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "SERVE_PERMISSIONS": [
        "rest_framework.permissions.AllowAny"
        if config("API_DOCS_PUBLIC", default=True, cast=bool)
        else "rest_framework.permissions.IsAdminUser"
    ],
}

# --- Email ------------------------------------------------------------------------------------
EMAIL_BACKEND = config("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = config("EMAIL_HOST", default="localhost")
EMAIL_PORT = config("EMAIL_PORT", default=587, cast=int)
EMAIL_USE_TLS = config("EMAIL_USE_TLS", default=True, cast=bool)
EMAIL_HOST_USER = config("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = config("EMAIL_HOST_PASSWORD", default="")
EMAIL_TIMEOUT = config("EMAIL_TIMEOUT", default=10, cast=int)
DEFAULT_FROM_EMAIL = config("DEFAULT_FROM_EMAIL", default="no-reply@videoflix.local")
# Links in emails: FRONTEND_URL + path + ?uid=…&token=…. The defaults are the pages of the
# Videoflix SPA served on http://127.0.0.1:5500, the origin CORS and CSRF trust by default.
FRONTEND_URL = config("FRONTEND_URL", default="http://127.0.0.1:5500")
EMAIL_VERIFICATION_PATH = config("EMAIL_VERIFICATION_PATH", default="/pages/auth/activate.html")
PASSWORD_RESET_PATH = config("PASSWORD_RESET_PATH", default="/pages/auth/confirm_password.html")

# --- Video pipeline ---------------------------------------------------------------------------
# The rungs of the HLS ladder to produce (a source never gets rungs taller than itself).
VIDEO_RUNGS = config("VIDEO_RUNGS", default="120p,360p,480p,720p,1080p", cast=Csv())
# 20 GB: a feature film's mezzanine file (ProRes, high-bitrate H.264) is often 10-20 GB; the
# resumable uploader streams it to disk, so only disk space bounds it, not memory or one request.
VIDEO_MAX_UPLOAD_MB = config("VIDEO_MAX_UPLOAD_MB", default=20480, cast=int)
# Resumable uploads (video/uploads/): their parts are appended here, outside MEDIA_ROOT so nothing
# half-uploaded is ever served; an upload not written to for VIDEO_UPLOAD_RESUME_HOURS is removed.
VIDEO_UPLOAD_DIR = Path(config("VIDEO_UPLOAD_DIR", default=str(BASE_DIR / "uploads")))
VIDEO_UPLOAD_RESUME_HOURS = config("VIDEO_UPLOAD_RESUME_HOURS", default=24, cast=int)
# With MEDIA_STORAGE=s3 the admin's uploader sends parts straight to the bucket: the origins the
# admin is opened on, which the bucket's CORS rule (manage.py storage_setup) lets PUT parts.
VIDEO_UPLOAD_ORIGINS = config(
    "VIDEO_UPLOAD_ORIGINS", default="http://localhost:8000,http://127.0.0.1:8000", cast=Csv()
)
# Transcoding (video/pipeline/ffmpeg/): x264 speed/quality trade-off and HLS segment length.
VIDEO_X264_PRESET = config("VIDEO_X264_PRESET", default="veryfast")
VIDEO_X264_CRF = config("VIDEO_X264_CRF", default=23, cast=int)
# Extra x264 options on top of the preset: a cheaper motion search and fewer partition types
# buy about 18% of encoding time for ~0.001 SSIM (docs/BENCHMARKS.md).
VIDEO_X264_PARAMS = config("VIDEO_X264_PARAMS", default="me=dia:partitions=i8x8,i4x4")
VIDEO_HLS_SEGMENT_SECONDS = config("VIDEO_HLS_SEGMENT_SECONDS", default=4, cast=int)
# Failed transcodes are retried this many times, waiting these seconds in turn (needs the RQ scheduler).
VIDEO_TRANSCODE_RETRIES = config("VIDEO_TRANSCODE_RETRIES", default=2, cast=int)
VIDEO_TRANSCODE_RETRY_DELAYS = config("VIDEO_TRANSCODE_RETRY_DELAYS", default="60,300", cast=Csv(int))
# Pending/processing videos whose job is gone are re-queued by the worker's sweep after this many seconds.
VIDEO_STALE_AFTER_SECONDS = config("VIDEO_STALE_AFTER_SECONDS", default=120, cast=int)
# The largest request body Django reads into memory (non-file fields); files stream to disk.
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Streaming (video/streaming/, docs/STREAMING.md) ------------------------------------------
# Browsers may keep playlists and segments this many seconds (Cache-Control: private).
HLS_CACHE_MAX_AGE = config("HLS_CACHE_MAX_AGE", default=3600, cast=int)
# Segment URIs in a rung playlist are signed for the viewer (HMAC-SHA256). The key: HLS_SIGNING_KEY,
# or one derived from SECRET_KEY when it is empty; nginx needs it set (it cannot derive it).
HLS_SIGNING_KEY = config("HLS_SIGNING_KEY", default="")
if HLS_SIGNING_KEY and len(HLS_SIGNING_KEY) < 32 and not DEBUG:
    sys.exit("Refusing to start: HLS_SIGNING_KEY is shorter than 32 characters; set a long random value.")
# How long a signed segment URL stays valid: the longest film plus a long pause (docs/STREAMING.md).
HLS_SIGNED_URL_SECONDS = config("HLS_SIGNED_URL_SECONDS", default=8 * 3600, cast=int)
# Expiry times are rounded up to this window, so a playlist fetched again within it is the same.
HLS_SIGNED_URL_WINDOW_SECONDS = config("HLS_SIGNED_URL_WINDOW_SECONDS", default=300, cast=int)
if HLS_SIGNED_URL_SECONDS < 60 or HLS_SIGNED_URL_WINDOW_SECONDS < 1:
    sys.exit("HLS_SIGNED_URL_SECONDS must be at least 60 and HLS_SIGNED_URL_WINDOW_SECONDS at least 1.")
# S3 signatures (SigV4) last at most seven days.
if MEDIA_STORAGE == "s3" and HLS_SIGNED_URL_SECONDS + HLS_SIGNED_URL_WINDOW_SECONDS > 7 * 24 * 3600:
    sys.exit("With MEDIA_STORAGE=s3, HLS_SIGNED_URL_SECONDS plus the window must stay within seven days.")

# --- Security (TLS switches are off by default for local HTTP) ---------------------------------
SECURE_SSL_REDIRECT = config("SECURE_SSL_REDIRECT", default=False, cast=bool)
SESSION_COOKIE_SECURE = config("SESSION_COOKIE_SECURE", default=False, cast=bool)
# The JWT cookies are Secure whenever the session cookie is, unless set on their own.
JWT_COOKIE_SECURE = config("JWT_COOKIE_SECURE", default=SESSION_COOKIE_SECURE, cast=bool)
CSRF_COOKIE_SECURE = config("CSRF_COOKIE_SECURE", default=False, cast=bool)
SECURE_HSTS_SECONDS = config("SECURE_HSTS_SECONDS", default=0, cast=int)
SECURE_HSTS_INCLUDE_SUBDOMAINS = config("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False, cast=bool)
SECURE_HSTS_PRELOAD = config("SECURE_HSTS_PRELOAD", default=False, cast=bool)
if config("SECURE_PROXY_SSL_HEADER", default=False, cast=bool):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- Logging ----------------------------------------------------------------------------------
LOG_LEVEL = config("LOG_LEVEL", default="INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "rq.worker": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
    },
}
