"""Resumable upload (tus) vs the plain admin form: throughput and the web process's memory for one
large file on loopback.

    .venv/bin/python bench/upload_memory.py [--size-mb 1024] [--runs 2] [--keep]

Starts its own gunicorn (one worker, as the image configures it: gunicorn.conf.py) against a
throw-away database (`DB_NAME=videoflix_upload_bench`, dropped at the end) and Redis databases
12/13, makes a film of about `--size-mb` (uncompressed video in AVI, so ffmpeg writes it in
seconds and the upload checks accept it), logs a staff member in, and uploads it `--runs` times
through each path, alternating (the best run of each counts):

- tus: one POST (creation) and one PATCH with the whole file, as tus-js-client sends it, then the
  add form saved with the upload's id;
- plain: the add form posted as multipart/form-data with the file, as a browser without
  JavaScript sends it.

Both bodies are streamed from disk by the client. While each runs, the gunicorn worker's resident
memory (VmRSS) is sampled every 50 ms. Prints a table (seconds, MB/s, RSS before, peak and growth)
and exits 1 when a bar is missed: the web process's RSS grows by 50 MB or more during the tus
upload, or tus is slower than 80% of the plain form's rate.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))

from bench.common import (  # noqa: E402
    MultipartFileBody,
    Table,
    drop_environment,
    prepare_environment,
    process_rss_mb,
    require_tools,
)
from tests.support import admin_session, ffmpeg, gunicorn, manage  # noqa: E402

RSS_GROWTH_BAR_MB = 50
RATE_BAR = 0.8
TUS = {"Tus-Resumable": "1.0.0"}


def make_film(path: Path, size_mb: int) -> Path:
    """Uncompressed 1280x720 4:2:0 video (1.38 MB a frame at 25 fps) of about `size_mb`."""
    seconds = max(1.0, size_mb / (1280 * 720 * 1.5 * 25 / 1024 / 1024))
    ffmpeg(
        "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=25:duration={seconds:.2f}",
        "-c:v", "rawvideo", "-pix_fmt", "yuv420p", str(path),
    )  # fmt: skip
    return path


class RssSampler:
    """The peak resident memory of one process while the block runs, sampled in a thread."""

    def __init__(self, pid: int, interval: float = 0.05):
        self.pid, self.interval = pid, interval
        self.before = self.peak = process_rss_mb(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, process_rss_mb(self.pid))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, process_rss_mb(self.pid))


def form_fields(session, category_id: int, title: str, **extra) -> dict[str, str]:
    return {
        "csrfmiddlewaretoken": session.cookies["csrftoken"],
        "title": title,
        "description": "",
        "category": str(category_id),
        **extra,
    }


def upload_tus(session, url: str, film: Path, category_id: int) -> None:
    csrf = {"X-CSRFToken": session.cookies["csrftoken"]}
    created = session.post(
        f"{url}/admin/video/video/uploads/",
        headers={**TUS, **csrf, "Upload-Length": str(film.stat().st_size)},
    )
    assert created.status_code == 201, created.text
    location = created.headers["Location"]
    with open(film, "rb") as handle:
        patched = session.patch(
            location,
            data=handle,
            headers={**TUS, **csrf, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
        )
    assert patched.status_code == 204, patched.text
    upload_id = location.rsplit("/", 1)[-1]
    saved = session.post(
        f"{url}/admin/video/video/add/",
        data=form_fields(session, category_id, "tus", upload=upload_id),
        allow_redirects=False,
    )
    assert saved.status_code == 302, saved.text[-3000:]


def upload_plain(session, url: str, film: Path, category_id: int) -> None:
    fields = form_fields(session, category_id, "plain")
    body = MultipartFileBody(fields, "source", film, content_type="video/x-msvideo")
    saved = session.post(
        f"{url}/admin/video/video/add/",
        data=body,
        headers={"Content-Type": body.content_type, "Referer": f"{url}/admin/video/video/add/"},
        allow_redirects=False,
    )
    assert saved.status_code == 302, saved.text[-3000:]


def web_worker_pid(master_pid: int) -> int:
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    assert len(children) == 1, f"expected one gunicorn worker, found {children}"
    return int(children[0])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=int, default=1024, help="size of the film (default 1024)")
    parser.add_argument(
        "--runs", type=int, default=2, help="uploads per path, alternating; best kept (default 2)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    require_tools("ffmpeg", "ffprobe")

    work = Path(tempfile.mkdtemp(prefix="videoflix-upload-"))
    env = prepare_environment(
        db_name="videoflix_upload_bench",
        redis_db=12,
        cache_db=13,
        media_root=work / "media",
        extra={
            "VIDEO_UPLOAD_DIR": str(work / "uploads"),
            "STATIC_ROOT": str(work / "static"),
            "GUNICORN_ACCESS_LOG": "",
            "TMPDIR": str(work),
        },
    )
    os.environ.update(env)
    import django

    django.setup()
    from authentication.models import User
    from video.models import Category

    try:
        manage(env, "migrate", "--noinput", "-v", "0")
        manage(env, "collectstatic", "--noinput", "-v", "0")  # the admin's pages need the manifest
        password = secrets.token_urlsafe(16)
        User.objects.create_superuser(email="bench@example.com", password=password)
        category = Category.objects.create(name="Bench")
        print(f"Making a film of about {args.size_mb} MB...", flush=True)
        film = make_film(work / "film.avi", args.size_mb)
        size_mb = film.stat().st_size / 1024 / 1024

        table = Table(
            ["path", "run", "MB", "seconds", "MB/s", "RSS before MB", "RSS peak MB", "RSS growth MB"]
        )
        rates, growth = {"plain": 0.0, "tus": 0.0}, {"plain": 0.0, "tus": 0.0}
        with gunicorn(env, work, workers=1) as web:
            pid = web_worker_pid(web.process.pid)
            session = admin_session(web.url, "bench@example.com", password)
            for run in range(1, args.runs + 1):
                for name, upload in (("plain", upload_plain), ("tus", upload_tus)):
                    print(f"Uploading through {name} (run {run})...", flush=True)
                    with RssSampler(pid) as rss:
                        started = time.perf_counter()
                        upload(session, web.url, film, category.pk)
                        seconds = time.perf_counter() - started
                    rates[name] = max(rates[name], size_mb / seconds)
                    growth[name] = max(growth[name], rss.peak - rss.before)
                    table.add(
                        name,
                        run,
                        f"{size_mb:.0f}",
                        f"{seconds:.1f}",
                        f"{size_mb / seconds:.0f}",
                        f"{rss.before:.0f}",
                        f"{rss.peak:.0f}",
                        f"{rss.peak - rss.before:.0f}",
                    )
                    # Each run stores a source; drop it so the disk holds one copy at a time.
                    shutil.rmtree(Path(env["MEDIA_ROOT"]) / "sources", ignore_errors=True)
        table.print()
        ratio = rates["tus"] / rates["plain"]
        print(f"\ntus / plain rate (best runs): {ratio:.0%} (bar: at least {RATE_BAR:.0%})")
        print(f"tus RSS growth (largest): {growth['tus']:.0f} MB (bar: under {RSS_GROWTH_BAR_MB} MB)")
        missed = growth["tus"] >= RSS_GROWTH_BAR_MB or ratio < RATE_BAR
        print("BAR MISSED" if missed else "Bars met.")
        return 1 if missed else 0
    finally:
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
            drop_environment(env)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
