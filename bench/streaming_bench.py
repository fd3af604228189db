"""Catalogue and streaming benchmark: gunicorn (2 workers) and nginx on loopback, driven by wrk.

    .venv/bin/python bench/streaming_bench.py [--duration 10] [--connections 16]

Creates a throw-away database (vf_bench, dropped at the end) on the PostgreSQL server named by
DB_HOST/DB_PORT/DB_USER (default 127.0.0.1:5432, postgres), uses Redis databases 8 (queues) and
9 (cache), seeds 100 ready videos with thumbnails and 4 rungs x 50 segments of 1 MiB for one of
them, asks the API for the rung playlists (so the segment URLs are really signed), then measures:

  ping         GET /api/bench/ping/: a trivial authenticated DRF view (bench-only URLconf)
  list         GET /api/video/ (100 videos; served from the Redis cache after the first call)
  seg-nginx    the segments served by nginx directly (a plain static location in the same server,
               so with the same transfer settings): the yardstick
  seg-signed   signed segment URLs through nginx with the shipped config (njs checks them)
  seg-gunicorn signed segment URLs through gunicorn alone (core.wsgi's signed handler)
  seg-bare     reference, no bar: a bare WSGI app sending the same files with gunicorn's
               sendfile, what gunicorn itself can do (bench/streaming_bare_wsgi.py)

Every segment row cycles through the 200 distinct URLs (no URL repeated back to back, nothing
cached by URL). Rows that are compared run in alternating slices. Prints a table, checks the
bars and exits 1 when one is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))

from tests.support import gunicorn  # noqa: E402 - after the sys.path line above
from tests.support.nginx import nginx_missing, shipped_nginx  # noqa: E402

VIDEOS = 100
RUNGS = ("360p", "480p", "720p", "1080p")
SEGMENTS_PER_RUNG = 50
SEGMENT_SIZE = 1024 * 1024
WORKERS = 2
SIGNING_KEY = secrets.token_urlsafe(48)
ERROR_FIELDS = ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")
BARS = (
    ("list >= 70% of ping", "list", "ping", 0.70),
    ("seg-signed >= 95% of seg-nginx", "seg-signed", "seg-nginx", 0.95),
    ("seg-gunicorn >= 35% of seg-nginx", "seg-gunicorn", "seg-nginx", 0.35),
)


def environment(work: Path) -> dict[str, str]:
    return dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="bench.api_settings",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(64),
        HLS_SIGNING_KEY=SIGNING_KEY,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DB_HOST=os.environ.get("DB_HOST", "127.0.0.1"),
        DB_USER=os.environ.get("DB_USER", "postgres"),
        DB_NAME="vf_bench",
        REDIS_HOST=os.environ.get("REDIS_HOST", "127.0.0.1"),
        REDIS_DB="8",
        REDIS_LOCATION=f"redis://{os.environ.get('REDIS_HOST', '127.0.0.1')}:6379/9",
        MEDIA_ROOT=str(work / "media"),
        STATIC_ROOT=str(work / "static"),
        LOG_LEVEL="WARNING",
        GUNICORN_ACCESS_LOG="",
        PYTHONPATH=str(BASE_DIR),
    )


def seed(work: Path) -> dict:
    """Create the database, migrate, and write the videos, thumbnails and one video's segments."""
    import django

    django.setup()
    from django.core.management import call_command

    call_command("ensure_database")
    call_command("migrate", "--noinput", verbosity=0)
    from PIL import Image
    from rest_framework_simplejwt.tokens import AccessToken

    from authentication.models import User
    from video.catalogue.cache import catalogue_invalidate
    from video.models import Category, Video

    media = work / "media"
    (media / "thumbnails").mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    Image.new("RGB", (320, 180), (180, 40, 40)).save(buffer, format="JPEG")
    categories = [Category.objects.create(name=f"Genre {index}") for index in range(10)]
    for index in range(VIDEOS):
        (media / f"thumbnails/bench-{index:03d}.jpg").write_bytes(buffer.getvalue())
    Video.objects.bulk_create(
        Video(
            title=f"Benchmark film {index}",
            description="A film used to measure the catalogue endpoint. " * 3,
            category=categories[index % len(categories)],
            thumbnail=f"thumbnails/bench-{index:03d}.jpg",
            source=f"sources/bench-{index}.mp4",
            status=Video.Status.READY,
            playable=True,
            duration=600.0,
            rungs=list(RUNGS),
        )
        for index in range(VIDEOS)
    )
    catalogue_invalidate()
    video = Video.objects.order_by("id").first()
    write_segments(media / "hls" / str(video.pk))
    user = User.objects.create_user(
        email="bench@example.com", password=secrets.token_urlsafe(16), is_active=True
    )
    return {"token": str(AccessToken.for_user(user)), "video_id": video.pk}


def write_segments(folder: Path) -> None:
    for rung in RUNGS:
        (folder / rung).mkdir(parents=True)
        playlist = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:4"]
        for index in range(SEGMENTS_PER_RUNG):
            (folder / rung / f"{index:03d}.ts").write_bytes(os.urandom(SEGMENT_SIZE))
            playlist += ["#EXTINF:4.0,", f"{index:03d}.ts"]
        (folder / rung / "index.m3u8").write_text("\n".join([*playlist, "#EXT-X-ENDLIST"]) + "\n")


def get(url: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, dict(response.headers), response.read()


def signed_paths(api: str, video_id: int, token: str) -> list[str]:
    """The signed segment URLs the API's rung playlists list for this viewer."""
    paths = []
    for rung in RUNGS:
        _, _, body = get(
            f"{api}/api/video/{video_id}/{rung}/index.m3u8", {"Authorization": f"Bearer {token}"}
        )
        uris = [line for line in body.decode().splitlines() if line and not line.startswith("#")]
        paths += [f"/api/video/{video_id}/{rung}/{uri}" for uri in uris]
    if len(paths) != len(RUNGS) * SEGMENTS_PER_RUNG or not all("sig=" in path for path in paths):
        raise RuntimeError("the rung playlists did not list every segment with a signature")
    return paths


def check_signed_answers(base: str, paths: list[str], label: str) -> None:
    """A signed URL must answer the segment with its type and caching headers, and a tampered one 403."""
    status, headers, body = get(base + paths[0], {"Origin": "http://127.0.0.1:5500"})
    if status != 200 or len(body) != SEGMENT_SIZE or headers.get("Content-Type") != "video/MP2T":
        raise RuntimeError(f"{label}: a signed segment answered {status} {headers.get('Content-Type')}")
    if headers.get("Access-Control-Allow-Origin") != "http://127.0.0.1:5500":
        raise RuntimeError(f"{label}: no CORS header for the SPA")
    try:
        get(base + paths[0].replace("000.ts", "001.ts", 1))
    except urllib.error.HTTPError as error:
        if error.code == 403:
            return
    raise RuntimeError(f"{label}: a tampered signature was not refused with 403")


def run_wrk(url: str, *, duration: int, connections: int, token: str = "", paths: Path | None = None) -> dict:
    env = dict(os.environ, WRK_BEARER=token, WRK_PATHS=str(paths or ""))
    command = [
        "wrk",
        "-t",
        "2",
        "-c",
        str(connections),
        "--timeout",
        "5s",
        "-s",
        str(BASE_DIR / "bench" / "wrk_report.lua"),
    ]
    result = subprocess.run(
        [*command, "-d", f"{duration}s", url],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=duration + 30,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def combine(parts: list[dict]) -> dict:
    """One row from several slices: totals for counts, the worst slice for latency."""
    total = {field: sum(part[field] for part in parts) for field in ("requests", "duration_us", "bytes")}
    seconds = total["duration_us"] / 1e6
    return {
        **total,
        "rps": total["requests"] / seconds,
        "mb_s": total["bytes"] / seconds / 1e6,
        "p50_us": max(part["p50_us"] for part in parts),
        "p99_us": max(part["p99_us"] for part in parts),
        "errors": sum(part[field] for part in parts for field in ERROR_FIELDS),
    }


# nginx's yardstick: the same files from a plain static location in the same server (so with the
# same transfer settings: sendfile, tcp_nopush, keep-alive), with no check at all.
DIRECT_PREFIX = "/bench-direct/"


def direct_location(hls_root: Path) -> str:
    return f"""
    location {DIRECT_PREFIX} {{
        alias {hls_root}/;
        types {{ video/MP2T ts; }}
    }}
"""


def measure(rows: dict, options) -> dict:
    """Warm every row up, then run them in alternating slices."""
    for url, kwargs in rows.values():
        run_wrk(url, duration=2, connections=options.connections, **kwargs)
    slices = {name: [] for name in rows}
    for round_number in range(options.rounds):
        for name, (url, kwargs) in rows.items():
            slice_seconds = max(options.duration // options.rounds, 1)
            slices[name].append(
                run_wrk(url, duration=slice_seconds, connections=options.connections, **kwargs)
            )
        print(f"  round {round_number + 1}/{options.rounds} done", flush=True)
    return {name: combine(parts) for name, parts in slices.items()}


def run(work: Path, options) -> dict:
    env = environment(work)
    os.environ.update(env)
    seeded = seed(work)
    token, hls_root = seeded["token"], work / "media" / "hls"
    with (
        gunicorn(env, work, workers=WORKERS) as web,
        gunicorn(
            dict(env, BENCH_HLS_ROOT=str(hls_root)),
            work,
            workers=WORKERS,
            app="bench.streaming_bare_wsgi:application",
            ready_path=f"/{seeded['video_id']}/480p/000.ts",
        ) as bare,
        shipped_nginx(
            work / "nginx",
            upstream=web.url.removeprefix("http://"),
            media_root=work / "media",
            static_root=work / "static",
            signing_key=SIGNING_KEY,
            workers=WORKERS,
            extra=direct_location(hls_root),
        ) as proxy,
    ):
        signed = signed_paths(web.url, seeded["video_id"], token)
        check_signed_answers(proxy, signed, "nginx")
        check_signed_answers(web.url, signed, "gunicorn")
        files = {"signed": work / "signed.txt", "plain": work / "plain.txt", "bare": work / "bare.txt"}
        files["signed"].write_text("\n".join(signed) + "\n")
        plain = [path.partition("?")[0] for path in signed]
        files["plain"].write_text(
            "\n".join(path.replace("/api/video/", DIRECT_PREFIX, 1) for path in plain) + "\n"
        )
        files["bare"].write_text("\n".join(path.removeprefix("/api/video") for path in plain) + "\n")
        rows = {
            "ping": (f"{web.url}/api/bench/ping/", {"token": token}),
            "list": (f"{web.url}/api/video/", {"token": token}),
            "seg-nginx": (f"{proxy}/", {"paths": files["plain"]}),
            "seg-signed": (f"{proxy}/", {"paths": files["signed"]}),
            "seg-gunicorn": (f"{web.url}/", {"paths": files["signed"]}),
            "seg-bare": (f"{bare.url}/", {"paths": files["bare"]}),
        }
        return measure(
            {name: row for name, row in rows.items() if not options.only or name in options.only}, options
        )


def cleanup() -> None:
    import psycopg2
    from django.conf import settings
    from django.db import connections
    from django_redis import get_redis_connection

    with contextlib.suppress(Exception):
        get_redis_connection("default").flushdb()  # database 9: this benchmark's own
    connections.close_all()
    db = settings.DATABASES["default"]
    connection = psycopg2.connect(
        dbname="postgres", user=db["USER"], password=db["PASSWORD"], host=db["HOST"], port=db["PORT"]
    )
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("DROP DATABASE IF EXISTS vf_bench WITH (FORCE)")
    connection.close()


def report(results: dict, options) -> int:
    slices = f"{options.duration} s per row in {options.rounds} slices"
    print(f"\nwrk: 2 threads, {options.connections} connections, {slices};")
    print(f"gunicorn {WORKERS} gthread workers x 1 thread; nginx {WORKERS} workers; {VIDEOS} videos;")
    load = f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    print(f"{len(RUNGS) * SEGMENTS_PER_RUNG} distinct 1 MiB segments; {load}.\n")
    print(f"{'row':<14}{'req/s':>10}{'MB/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for name, row in results.items():
        latency = f"{row['p50_us'] / 1000:>9.2f}{row['p99_us'] / 1000:>9.2f}"
        print(f"{name:<14}{row['rps']:>10.0f}{row['mb_s']:>10.1f}{latency}{row['errors']:>8}")
    if options.json:
        options.json.write_text(json.dumps(results, indent=2))
    if set(results) != {"ping", "list", "seg-nginx", "seg-signed", "seg-gunicorn", "seg-bare"}:
        print("\nSome rows were skipped (--only): no bars checked.")
        return 0
    checks = [
        (label, results[row]["rps"] / results[base]["rps"], needed, f">= {needed:.0%}")
        for label, row, base, needed in BARS
    ]
    print(f"\n{'bar':<36}{'measured':>10}{'needed':>10}  result")
    missed = 0
    for label, value, needed, need in checks:
        missed += value < needed
        print(f"{label:<36}{value:>10.0%}{need:>10}  {'PASS' if value >= needed else 'FAIL'}")
    p99 = results["list"]["p99_us"] / 1000
    errors = sum(row["errors"] for row in results.values())
    missed += p99 >= 50 or errors > 0
    print(f"{'list p99 < 50 ms':<36}{p99:>10.2f}{'< 50':>10}  {'PASS' if p99 < 50 else 'FAIL'}")
    print(f"{'no errors under load':<36}{errors:>10}{'0':>10}  {'PASS' if not errors else 'FAIL'}")
    bare = results["seg-bare"]["rps"] / results["seg-nginx"]["rps"]
    print(f"\nreference: bare gunicorn + sendfile (no Django, no check) = {bare:.0%} of seg-nginx")
    return 1 if missed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=30, help="seconds per row (default 30)")
    parser.add_argument(
        "--rounds", type=int, default=6, help="slices each row's time is split into (default 6)"
    )
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--only", nargs="*", help="measure only these rows (bars need all of them)")
    options = parser.parse_args()
    reason = nginx_missing() or (None if shutil.which("wrk") else "wrk is required (apt-get install wrk)")
    if reason:
        sys.exit(reason)
    work = Path(tempfile.mkdtemp(prefix="vf-streaming-bench-"))
    work.chmod(0o755)
    try:
        results = run(work, options)
    finally:
        with contextlib.suppress(Exception):
            cleanup()
        shutil.rmtree(work, ignore_errors=True)
    return report(results, options)


if __name__ == "__main__":
    sys.exit(main())
