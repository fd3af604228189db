# Videoflix backend image: web (gunicorn) and worker (rqworker) run this same image.

# The admin's browser code (frontend/src/) bundled with Uppy and hls.js from the npm registry, as
# package-lock.json pins them; only the bundles reach the image (collectstatic serves them).
FROM node:20-alpine AS frontend
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/build.mjs frontend/build.mjs
COPY frontend/src frontend/src
RUN npm run build

FROM python:3.12-alpine

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    STATIC_ROOT=/app/static \
    MEDIA_ROOT=/app/media \
    VIDEO_UPLOAD_DIR=/app/uploads

WORKDIR /app

# ffmpeg/ffprobe for the pipeline, pg_isready for the entrypoint, libpq for psycopg2.
# Alpine's repositories keep only the current build of each package, so versions are not pinned.
# hadolint ignore=DL3018
RUN apk add --no-cache ffmpeg postgresql-client libpq \
    && addgroup -S -g 10001 videoflix \
    && adduser -S -D -H -u 10001 -G videoflix -h /app videoflix

# Dependencies in their own layer: rebuilt only when requirements.txt changes.
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY --chown=videoflix:videoflix . .
COPY --from=frontend --chown=videoflix:videoflix /build/frontend/dist /app/frontend/dist
RUN mkdir -p /app/static /app/media /app/uploads \
    && chown -R videoflix:videoflix /app/static /app/media /app/uploads \
    && chmod +x /app/backend.entrypoint.sh

USER 10001:10001
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "manage.py", "healthcheck", "database", "cache"]

ENTRYPOINT ["/app/backend.entrypoint.sh"]
# No CMD: without arguments the entrypoint starts gunicorn (see backend.entrypoint.sh).
