"""Catalogue and streaming benchmark: gunicorn (2 workers) and nginx on loopback, driven by wrk.

    .venv/bin/python bench/streaming_bench.py [--duration 10] [--connections 16]

Creates a throw-away database (DB_NAME=vf_bench, dropped at the end) on the PostgreSQL server
named by DB_HOST/DB_PORT/DB_USER (default 127.0.0.1:5432, postgres), uses Redis databases 8
(queues) and 9 (cache) on REDIS_HOST (default 127.0.0.1), seeds 100 ready videos with
thumbnails and one 1 MiB segment, then measures, authenticated with a Bearer token:

  ping        GET /api/bench/ping/ (trivial authenticated DRF view, bench-only URLconf)
  list        GET /api/video/ (100 videos; served from the Redis cache after the first call)
  seg-django  1 MiB segment through gunicorn (HLS_SERVE_MODE=django: sendfile)
  seg-nginx   the same file served by nginx directly (static location)
  seg-accel   the same URL through nginx -> gunicorn (HLS_SERVE_MODE=x-accel) -> nginx sends it
  seg-bare    reference, no bar: a bare WSGI app (no Django, no auth) sending the file with
              gunicorn's sendfile, i.e. what gunicorn itself can do (bench/streaming_bare_wsgi.py)

nginx runs the shipped nginx/videoflix.conf with its paths and upstream rewritten for this run,
plus one extra server for the direct file. Prints a table, checks the bars of issue 5 and exits
1 when one is missed. Each wrk run is bounded (a short warm-up plus --duration seconds).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
BENCH_DIR = BASE_DIR / "bench"
sys.path.insert(0, str(BASE_DIR))

VIDEOS = 100
SEGMENT_SIZE = 1024 * 1024
WORKERS = 2

from tests.support import free_port  # noqa: E402 - after the sys.path line above


def wait_for_http(url: str, token: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                if response.status == 200:
                    return
        except Exception as exc:  # noqa: BLE001 - keep polling until the deadline
            last_error = exc
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer 200 within {timeout} s: {last_error}")


def environment(work: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.api_settings",
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(64),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DB_HOST": os.environ.get("DB_HOST", "127.0.0.1"),
            "DB_USER": os.environ.get("DB_USER", "postgres"),
            "DB_NAME": "vf_bench",
            "REDIS_HOST": os.environ.get("REDIS_HOST", "127.0.0.1"),
            "REDIS_DB": "8",
            "REDIS_LOCATION": f"redis://{os.environ.get('REDIS_HOST', '127.0.0.1')}:6379/9",
            "MEDIA_ROOT": str(work / "media"),
            "STATIC_ROOT": str(work / "static"),
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(BASE_DIR),
        }
    )
    return env


def seed(work: Path) -> dict:
    """Create the database, migrate, and write 100 ready videos, thumbnails and the segment."""
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
    videos = []
    for index in range(VIDEOS):
        thumbnail = f"thumbnails/bench-{index:03d}.jpg"
        (media / thumbnail).write_bytes(buffer.getvalue())
        videos.append(
            Video(
                title=f"Benchmark film {index}",
                description="A film used to measure the catalogue endpoint. " * 3,
                category=categories[index % len(categories)],
                thumbnail=thumbnail,
                source=f"sources/bench-{index}.mp4",
                status=Video.Status.READY,
                duration=600.0,
                rungs=["360p", "480p", "720p"],
            )
        )
    Video.objects.bulk_create(videos)
    catalogue_invalidate()
    video = Video.objects.order_by("id").first()
    rung = media / "hls" / str(video.pk) / "480p"
    rung.mkdir(parents=True)
    (rung / "000.ts").write_bytes(os.urandom(SEGMENT_SIZE))
    (rung / "index.m3u8").write_text(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\n000.ts\n#EXT-X-ENDLIST\n"
    )
    (media / "hls" / str(video.pk) / "master.m3u8").write_text(
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000000,RESOLUTION=854x480\n480p/index.m3u8\n"
    )
    user = User.objects.create_user(
        email="bench@example.com", password=secrets.token_urlsafe(16), is_active=True
    )
    return {"token": str(AccessToken.for_user(user)), "video_id": video.pk}


def drop_database() -> None:
    from django.conf import settings
    from django.db import connections

    connections.close_all()
    import psycopg2

    db = settings.DATABASES["default"]
    connection = psycopg2.connect(
        dbname="postgres", user=db["USER"], password=db["PASSWORD"], host=db["HOST"], port=db["PORT"]
    )
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("DROP DATABASE IF EXISTS vf_bench WITH (FORCE)")
    connection.close()


def flush_bench_redis() -> None:
    from django_redis import get_redis_connection

    get_redis_connection("default").flushdb()  # database 9: this benchmark's own


def nginx_config(work: Path, direct_port: int, proxy_port: int, upstream_port: int) -> Path:
    """The shipped config with this run's paths, ports and upstream, inside a minimal nginx.conf."""
    shipped = (BASE_DIR / "nginx" / "videoflix.conf").read_text()
    site = (
        shipped.replace("server web:8000;", f"server 127.0.0.1:{upstream_port};")
        .replace("/var/run/", f"{work}/")
        .replace("/var/cache/nginx/", f"{work}/nginx-cache/")
        .replace("/app/media/", f"{work}/media/")
        .replace("/app/static/", f"{work}/static/")
        .replace("listen [::]:80;", "")
        .replace("listen 80;", f"listen 127.0.0.1:{proxy_port};")
    )
    if f"127.0.0.1:{upstream_port}" not in site or f"{work}/media/hls/" not in site:
        raise RuntimeError("nginx/videoflix.conf no longer has the expected upstream or paths")
    user = "user root;" if os.geteuid() == 0 else ""
    main = f"""
{user}
worker_processes {WORKERS};
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    client_body_temp_path {work}/nginx-tmp/body;
    proxy_temp_path {work}/nginx-tmp/proxy;
    fastcgi_temp_path {work}/nginx-tmp/fastcgi;
    uwsgi_temp_path {work}/nginx-tmp/uwsgi;
    scgi_temp_path {work}/nginx-tmp/scgi;
    sendfile on;
    tcp_nopush on;

    # The yardstick: the same file served directly, no authentication.
    server {{
        listen 127.0.0.1:{direct_port};
        keepalive_requests 10000;
        location /direct/ {{
            alias {work}/media/hls/;
            types {{ video/MP2T ts; }}
        }}
    }}

{site}
}}
"""
    (work / "nginx-tmp").mkdir(exist_ok=True)
    (work / "nginx-cache").mkdir(exist_ok=True)
    path = work / "nginx.conf"
    path.write_text(main)
    return path


ERROR_FIELDS = ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")


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
        "errors": sum(part["errors"] for part in parts),
    }


def run_wrk(url: str, token: str, *, duration: int, connections: int) -> dict:
    env = dict(os.environ, WRK_BEARER=token)
    script = str(BENCH_DIR / "wrk_report.lua")
    base = ["wrk", "-t", "2", "-c", str(connections), "--timeout", "5s", "-s", script]
    result = subprocess.run(
        [*base, "-d", f"{duration}s", url],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=duration + 30,
    )
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    seconds = summary["duration_us"] / 1e6
    summary["rps"] = summary["requests"] / seconds
    summary["mb_s"] = summary["bytes"] / seconds / 1e6
    summary["errors"] = sum(summary[name] for name in ERROR_FIELDS)
    return summary


@contextlib.contextmanager
def started(command: list[str], *, env: dict, log: Path, cwd: Path = BASE_DIR):
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=output, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def gunicorn_command(port: int, options, app: str = "core.wsgi:application") -> list[str]:
    command = [
        str(Path(sys.executable).with_name("gunicorn")),
        app,
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(WORKERS),
        "--worker-class",
        options.worker_class,
        "--error-logfile",
        "-",
    ]
    if options.worker_class == "gthread":
        command += ["--threads", str(options.threads)]
    return command


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per row (default 10)")
    parser.add_argument(
        "--rounds", type=int, default=2, help="slices each row's time is split into (default 2)"
    )
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--worker-class",
        default="gthread",
        choices=["sync", "gthread"],
        help="gunicorn worker class (default gthread, as the image runs it)",
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="threads per gthread worker (default 1, as the image)"
    )
    parser.add_argument("--only", nargs="*", help="measure only these rows (bars need all of them)")
    options = parser.parse_args()
    for tool in ("wrk", "nginx"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is required (apt-get install {tool}).")

    work = Path(tempfile.mkdtemp(prefix="vf-streaming-bench-"))
    work.chmod(0o755)
    env = environment(work)
    os.environ.update(env)
    ports = {name: free_port() for name in ("django", "accel", "direct", "proxy", "bare")}
    try:
        seeded = seed(work)
        token, video_id = seeded["token"], seeded["video_id"]
        config = nginx_config(work, ports["direct"], ports["proxy"], ports["accel"])
        subprocess.run(["nginx", "-t", "-q", "-c", str(config), "-p", str(work)], check=True, timeout=30)
        accel_env = dict(env, HLS_SERVE_MODE="x-accel")
        segment = f"{video_id}/480p/000.ts"
        urls = {
            "ping": f"http://127.0.0.1:{ports['django']}/api/bench/ping/",
            "list": f"http://127.0.0.1:{ports['django']}/api/video/",
            "seg-django": f"http://127.0.0.1:{ports['django']}/api/video/{segment}",
            "seg-nginx": f"http://127.0.0.1:{ports['direct']}/direct/{segment}",
            "seg-accel": f"http://127.0.0.1:{ports['proxy']}/api/video/{segment}",
            "seg-bare": f"http://127.0.0.1:{ports['bare']}/{segment}",
        }
        bare_env = dict(env, BENCH_SEGMENT_PATH=str(work / "media" / "hls" / segment))
        with (
            started(gunicorn_command(ports["django"], options), env=env, log=work / "gunicorn-django.log"),
            started(
                gunicorn_command(ports["accel"], options), env=accel_env, log=work / "gunicorn-accel.log"
            ),
            started(
                gunicorn_command(ports["bare"], options, "bench.streaming_bare_wsgi:application"),
                env=bare_env,
                log=work / "gunicorn-bare.log",
            ),
            started(
                ["nginx", "-c", str(config), "-p", str(work), "-g", "daemon off;"],
                env=env,
                log=work / "nginx.log",
            ),
        ):
            for url in urls.values():
                wait_for_http(url, token)
            check_list_shape(urls["list"], token)
            check_accel_headers(urls["seg-accel"], token)
            # Rows that are compared run in alternating slices, so a change in the machine's load
            # during the run weighs on both sides of a ratio alike.
            names = [name for name in urls if not options.only or name in options.only]
            for name in names:
                run_wrk(urls[name], token, duration=2, connections=options.connections)  # warm-up
            slices = {name: [] for name in names}
            slice_seconds = max(options.duration // options.rounds, 1)
            for round_number in range(options.rounds):
                for name in names:
                    slices[name].append(
                        run_wrk(urls[name], token, duration=slice_seconds, connections=options.connections)
                    )
                print(f"  round {round_number + 1}/{options.rounds} done", flush=True)
            results = {name: combine(parts) for name, parts in slices.items()}
    finally:
        with contextlib.suppress(Exception):
            flush_bench_redis()
        with contextlib.suppress(Exception):
            drop_database()
        shutil.rmtree(work, ignore_errors=True)

    return report(results, options)


def check_list_shape(url: str, token: str) -> None:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        items = json.loads(response.read())
    if len(items) != VIDEOS or not all(item["thumbnail_url"].startswith("http://") for item in items):
        raise RuntimeError("the list did not answer the 100 seeded videos with absolute thumbnail URLs")


def check_accel_headers(url: str, token: str) -> None:
    """nginx must answer the segment itself, with Django's type and caching headers, CORS, Range
    and 304, the same on a fresh and on a cached authorisation, and never serve without one."""
    problems = []
    spa = "http://127.0.0.1:5500"
    for attempt in ("fresh", "cached"):
        headers = {"Authorization": f"Bearer {token}", "Range": "bytes=0-99", "Origin": spa}
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:
            body, answer = response.read(), response.headers
        if response.status != 206 or len(body) != 100:
            problems.append(f"{attempt}: Range answered {response.status} with {len(body)} bytes")
        if answer.get("Content-Type") != "video/MP2T":
            problems.append(f"{attempt}: Content-Type {answer.get('Content-Type')!r}")
        if not re.fullmatch(r"private, max-age=\d+", answer.get("Cache-Control", "")):
            problems.append(f"{attempt}: Cache-Control {answer.get('Cache-Control')!r}")
        if (
            answer.get("Access-Control-Allow-Origin") != spa
            or answer.get("Access-Control-Allow-Credentials") != "true"
        ):
            problems.append(f"{attempt}: CORS headers missing")
        if any(name.lower().startswith("x-accel") for name in answer) or not answer.get("ETag"):
            problems.append(f"{attempt}: X-Accel-* leaked or ETag missing")
        conditional = {"Authorization": f"Bearer {token}", "If-None-Match": answer.get("ETag", "")}
        try:
            urllib.request.urlopen(urllib.request.Request(url, headers=conditional), timeout=10)
            problems.append(f"{attempt}: If-None-Match did not answer 304")
        except urllib.error.HTTPError as exc:
            if exc.code != 304:
                problems.append(f"{attempt}: If-None-Match answered {exc.code}")
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        try:
            urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10)
            problems.append("served without valid credentials")
        except urllib.error.HTTPError as exc:
            if exc.code != 401 or not exc.headers.get("Content-Type", "").startswith("application/json"):
                problems.append(f"without valid credentials: {exc.code} {exc.headers.get('Content-Type')}")
    if problems:
        raise RuntimeError("nginx X-Accel-Redirect answers are wrong: " + "; ".join(problems))


def report(results: dict, options) -> int:
    print()
    workers = f"{WORKERS} {options.worker_class} workers"
    if options.worker_class == "gthread":
        workers += f" x {options.threads} threads"
    rows = f"{options.duration} s per row in {options.rounds} slices"
    print(f"wrk: 2 threads, {options.connections} connections, {rows};")
    print(f"gunicorn {workers}; nginx {WORKERS} workers; {VIDEOS} videos; 1 MiB segment; Bearer.")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs.")
    print()
    print(f"{'endpoint':<12}{'req/s':>10}{'MB/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for name, row in results.items():
        print(
            f"{name:<12}{row['rps']:>10.0f}{row['mb_s']:>10.1f}{row['p50_us'] / 1000:>9.2f}"
            f"{row['p99_us'] / 1000:>9.2f}{row['errors']:>8}"
        )
    if not {"ping", "list", "seg-django", "seg-nginx", "seg-accel"} <= set(results):
        print("\nSome rows were skipped (--only): no bars checked.")
        return 0
    bars = [
        (
            "list >= 70% of ping",
            results["list"]["rps"] / results["ping"]["rps"],
            0.70,
        ),
        ("list p99 < 50 ms", results["list"]["p99_us"] / 1000, 50.0),
        ("seg-django >= 50% of seg-nginx", results["seg-django"]["rps"] / results["seg-nginx"]["rps"], 0.50),
        ("seg-accel >= 90% of seg-nginx", results["seg-accel"]["rps"] / results["seg-nginx"]["rps"], 0.90),
        ("no errors under load", float(sum(row["errors"] for row in results.values())), 0.0),
    ]
    print()
    print(f"{'bar':<34}{'measured':>10}{'needed':>10}  result")
    missed = 0
    for label, value, needed in bars:
        if label.startswith("list p99") or label.startswith("no errors"):
            passed = value < needed if label.startswith("list p99") else value == needed
            shown, need = (
                (f"{value:.2f}", f"< {needed:.0f}")
                if label.startswith("list p99")
                else (
                    f"{value:.0f}",
                    "0",
                )
            )
        else:
            passed = value >= needed
            shown, need = f"{value:.0%}", f">= {needed:.0%}"
        missed += not passed
        print(f"{label:<34}{shown:>10}{need:>10}  {'PASS' if passed else 'FAIL'}")
    if "seg-bare" in results:
        share = results["seg-bare"]["rps"] / results["seg-nginx"]["rps"]
        print(f"\nreference: bare gunicorn + sendfile (no Django) = {share:.0%} of seg-nginx")
    if options.json:
        options.json.write_text(json.dumps(results, indent=2))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
