"""Soak: 32 connections against the list, playlist and segment endpoints while a transcode runs.

    .venv/bin/python bench/soak.py [--duration 60] [--connections 32] [--web-workers 4]

Starts its own gunicorn and RQ worker against a throw-away database (`DB_NAME=videoflix_soak`,
dropped at the end) and Redis databases 10/11 on the local servers, publishes one real
transcoded video through the pipeline and copies it to 50 catalogue rows, queues a second,
longer transcode, and while the worker runs it, drives wrk (one process per endpoint, the
connections split between them) for the chosen time. Prints throughput, p50/p99 latency and the
error count per endpoint, and the worker's memory before and after. Exits 1 when any request
failed (non-2xx/3xx, socket error or timeout) or the concurrent transcode did not run.
Loopback traffic only; every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import sys
import tempfile
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))

from bench.common import (  # noqa: E402
    Table,
    drop_environment,
    prepare_environment,
    process_rss_mb,
    require_tools,
    wrk_run_parallel,
)
from tests.support import gunicorn, http_get, make_clip, manage, rq_worker, wait_until  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=60, help="seconds of load (default 60)")
    parser.add_argument("--connections", type=int, default=32, help="total connections (default 32)")
    parser.add_argument("--web-workers", type=int, default=4, help="gunicorn workers (default 4)")
    parser.add_argument("--videos", type=int, default=50, help="ready catalogue rows (default 50)")
    args = parser.parse_args()
    require_tools("wrk", "ffmpeg")

    work = Path(tempfile.mkdtemp(prefix="videoflix-soak-"))
    env = prepare_environment(
        db_name="videoflix_soak",
        redis_db=10,
        cache_db=11,
        media_root=work / "media",
        extra={"VIDEO_RUNGS": "360p,480p,720p", "SECRET_KEY": secrets.token_urlsafe(50)},
    )
    os.environ.update(env)

    import django

    django.setup()
    from django.core.files import File
    from rest_framework_simplejwt.tokens import AccessToken

    from authentication.models import User
    from video.models import Category, Video
    from video.pipeline.services import video_create

    processes = contextlib.ExitStack()
    try:
        manage(env, "migrate", "--noinput", "-v", "0")
        user = User.objects.create_user(email="soak@example.com", password=secrets.token_urlsafe(16))
        user.is_active = True
        user.save()
        category = Category.objects.create(name="Soak")

        worker = processes.enter_context(rq_worker(env, work)).process

        print("Transcoding the seed video through the pipeline...", flush=True)
        make_clip(work / "seed.mp4", width=1280, height=720, seconds=12)
        with open(work / "seed.mp4", "rb") as handle:
            seed = video_create(title="Seed", category=category, source=File(handle, name="seed.mp4"))
        assert wait_until(lambda: Video.objects.get(pk=seed.pk).status in ("ready", "failed"), timeout=600), (
            "the seed transcode did not finish"
        )
        seed.refresh_from_db()
        assert seed.status == "ready", seed.error

        hls_root = Path(env["MEDIA_ROOT"]) / "hls"
        for number in range(args.videos - 1):
            copy = Video.objects.create(
                title=f"Copy {number}",
                description="Soak copy",
                category=category,
                source=seed.source.name,
                thumbnail=seed.thumbnail.name,
                status=Video.Status.READY,
                playable=True,
                rungs=seed.rungs,
                duration=seed.duration,
                job_id="",
            )
            shutil.copytree(hls_root / str(seed.pk), hls_root / str(copy.pk))

        print("Queueing the concurrent transcode...", flush=True)
        make_clip(work / "long.mp4", width=1280, height=720, seconds=90)
        rss_before = process_rss_mb(worker.pid)
        with open(work / "long.mp4", "rb") as handle:
            busy = video_create(title="Busy", category=category, source=File(handle, name="long.mp4"))
        assert wait_until(lambda: Video.objects.get(pk=busy.pk).status == "processing", timeout=60), (
            "the concurrent transcode never started"
        )

        token = str(AccessToken.for_user(user))
        headers = {"Authorization": f"Bearer {token}"}
        # As the image runs it (gunicorn.conf.py), without the access log that would compete
        # with wrk for the CPU.
        web_env = dict(env, GUNICORN_ACCESS_LOG="")
        web_args = ("--backlog", "2048", "--log-level", "warning")
        with gunicorn(web_env, work, workers=args.web_workers, extra_args=web_args) as web:
            base = web.url
            split = [args.connections - 2 * (args.connections // 3), *(2 * [args.connections // 3])]
            playlist = f"/api/video/{seed.pk}/480p/index.m3u8"
            _, listed = http_get(base + playlist, headers)
            # The player's way: the first segment's signed URL, as the playlist lists it.
            first = next(line for line in listed.decode().splitlines() if line and not line.startswith("#"))
            targets = {
                "GET /api/video/": "/api/video/",
                "GET 480p/index.m3u8": playlist,
                "GET 480p/000.ts (signed)": f"/api/video/{seed.pk}/480p/{first}",
            }
            print(f"Soaking {args.duration}s at {args.connections} connections...", flush=True)
            results = wrk_run_parallel(
                [
                    (name, base + path, connections, args.duration, headers)
                    for (name, path), connections in zip(targets.items(), split, strict=True)
                ]
            )
        busy.refresh_from_db()
        transcode_progress = busy.progress if busy.status != "ready" else 100
        rss_after = process_rss_mb(worker.pid)
        worker_alive = worker.poll() is None

        table = Table(["endpoint", "conn", "req/s", "p50 ms", "p99 ms", "errors"])
        total_errors = 0
        for name, result in results.items():
            total_errors += result.errors
            table.add(
                name,
                result.connections,
                f"{result.requests_per_second:.0f}",
                f"{result.p50_ms:.1f}",
                f"{result.p99_ms:.1f}",
                result.errors,
            )
        print()
        table.print()
        print()
        print(f"worker RSS before: {rss_before:.1f} MB, after: {rss_after:.1f} MB (parent process)")
        print(f"concurrent transcode: status {busy.status}, progress {transcode_progress}%")
        failed = []
        if total_errors:
            failed.append(f"{total_errors} failed requests (bar: zero)")
        if not worker_alive:
            failed.append("the worker died")
        if busy.status == "failed":
            failed.append(f"the concurrent transcode failed: {busy.error[:200]}")
        if busy.status == "pending":
            failed.append("the concurrent transcode did not run during the soak")
        print("RESULT:", "FAIL — " + "; ".join(failed) if failed else "PASS (zero errors)")
        return 1 if failed else 0
    finally:
        processes.close()
        from django.db import connections

        connections.close_all()
        drop_environment(env)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
