"""Time to watch: how soon a film uploaded through the admin plays, and whether a viewer who starts
at once ever waits for a segment.

    python bench/time_to_watch.py [--seconds 180] [--workdir DIR]

One run on this machine, as the product runs: a fresh database and Redis databases, gunicorn
(gunicorn.conf.py) and one RQ worker (`manage.py rqworker`), the default ladder and settings.

* The source is bench/transcode.py's generated 1080p film (moving, detailed, grainy; sine audio),
  `--seconds` long (at least 180), kept in `--workdir` for the next run.
* Staff log into the admin and upload it with the add form, a multipart POST as a browser sends it.
* From the moment the last byte of the upload was sent: seconds until the 480p playlist (the one the
  SPA loads) answers 200, until the film is in `GET /api/video/`, until it is ready.
* A viewer starts the moment the 480p playlist answers: it plays segment n during
  [start + n*S, start + (n+1)*S], downloads each segment (signed URL) before its turn, and reloads
  the playlist every S/2 seconds while the next segment is not listed yet. A segment that arrives
  after its turn is a stall (the viewer then waits, as a player would).
* The encoder speeds (media seconds per second) of the two ffmpeg processes, from the worker's log.

Bars (the exit status is 1 when one is missed): first playable <= 10 s after the upload ends;
zero stalls; the film ends ready with every rung.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))

from bench.common import (  # noqa: E402
    MultipartFileBody,
    Table,
    drop_environment,
    prepare_environment,
    require_tools,
)
from bench.transcode import make_source  # noqa: E402
from tests.support import admin_session, gunicorn, manage, rq_worker  # noqa: E402

FIRST_PLAYABLE_BAR = 10.0
START_RUNG = "480p"  # what the SPA loads first
POLL = 0.1


def upload(web_url: str, session, *, category_id: int, source: Path) -> float:
    """Upload the film with the admin's add form; return when its last byte was sent."""
    url = f"{web_url}/admin/video/video/add/"
    session.get(url, timeout=10)
    fields = {
        "title": "Time to watch",
        "description": "Uploaded by bench/time_to_watch.py.",
        "category": str(category_id),
        "csrfmiddlewaretoken": session.cookies["csrftoken"],
    }
    body = MultipartFileBody(fields, "source", source, content_type="video/mp4")
    # requests streams an iterable with a length under that Content-Length.
    headers = {"Referer": url, "Content-Type": body.content_type}
    response = session.post(url, data=body, headers=headers, timeout=600, allow_redirects=False)
    if response.status_code != 302:
        sys.exit(f"The upload was refused ({response.status_code}):\n{response.text[:3000]}")
    return body.finished_at


def watch_at_real_time_pace(http, playlist_url: str, segment_seconds: float) -> dict:
    """Play the rung as a viewer who started at once: playback starts when segment 000 has
    arrived; segment n's turn is start + n*S (plus any time already waited), and segment n + 1 is
    fetched once segment n's turn has come (one segment of buffer, less than any real player)."""
    import requests

    playlist = http.get(playlist_url, timeout=10).text
    number, stalls, waited, slack, play_start = 0, 0, 0.0, float("inf"), None
    while True:
        segments = [line for line in playlist.splitlines() if line and not line.startswith("#")]
        if number < len(segments):
            answer = http.get(requests.compat.urljoin(playlist_url, segments[number]), timeout=30)
            answer.raise_for_status()
            arrived = time.monotonic()
            play_start = arrived if play_start is None else play_start
            turn = play_start + waited + number * segment_seconds
            if number:
                slack = min(slack, turn - arrived)
            if arrived > turn:
                stalls += 1
                waited += arrived - turn
            number += 1
            time.sleep(max(0.0, turn - time.monotonic()))
            continue
        if "#EXT-X-ENDLIST" in playlist:
            return {"segments": number, "stalls": stalls, "waited": waited, "slack": slack}
        time.sleep(segment_seconds / 2)
        playlist = http.get(playlist_url, timeout=10).text


def first_moment(predicate, since: float, timeout: float) -> float | None:
    """Seconds from `since` until `predicate()` holds (polled every POLL s), or None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic() - since
        time.sleep(POLL)
    return None


def run(args, work: Path, env: dict) -> tuple[Table, bool]:
    import django

    django.setup()
    import requests
    from rest_framework_simplejwt.tokens import AccessToken

    from authentication.models import User
    from video.models import Category, Video

    source = work / f"source-1080p-{args.seconds}s-v2.mp4"
    make_source(source, args.seconds)
    manage(env, "migrate", "--noinput", "-v", "0")
    manage(env, "collectstatic", "--noinput", "-v", "0")  # the admin's pages, as in production
    password = secrets.token_urlsafe(16)
    User.objects.create_superuser(email="staff@example.com", password=password)
    viewer = User.objects.create_user(email="viewer@example.com", password=password)
    viewer.is_active = True
    viewer.save()
    category = Category.objects.get_or_create(name="Bench")[0]
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {AccessToken.for_user(viewer)}"

    worker_env = dict(env, LOG_LEVEL="INFO")
    with gunicorn(env, work) as web, rq_worker(worker_env, work, queues=("transcode",)) as worker:
        session = admin_session(web.url, "staff@example.com", password)
        print(f"Uploading {source.stat().st_size / 1e6:.0f} MB through the admin ...", flush=True)
        sent = upload(web.url, session, category_id=category.pk, source=source)
        video = Video.objects.get(title="Time to watch")
        playlist_url = f"{web.url}/api/video/{video.pk}/{START_RUNG}/index.m3u8"
        playable = first_moment(lambda: http.get(playlist_url, timeout=10).status_code == 200, sent, 600)
        if playable is None:
            sys.exit("The 480p playlist never answered:\n" + worker.log())
        listed = first_moment(
            lambda: any(item["id"] == video.pk for item in http.get(f"{web.url}/api/video/").json()), sent, 60
        )
        print(f"Playable after {playable:.1f} s; watching at real-time pace ...", flush=True)
        segment_seconds = float(re.search(r"#EXT-X-TARGETDURATION:(\d+)", http.get(playlist_url).text)[1])
        viewing = watch_at_real_time_pace(http, playlist_url, segment_seconds)
        ready = first_moment(lambda: Video.objects.get(pk=video.pk).status == "ready", sent, 3600)
        video.refresh_from_db()
        speeds = re.findall(r"encoder speed \(media s per s\): (.*)", worker.log())

    table = Table(["measure", "value", "bar", "ok"])
    checks = [
        ("first playable 480p playlist (s after the upload)", f"{playable:.1f}", f"<= {FIRST_PLAYABLE_BAR}",
         playable <= FIRST_PLAYABLE_BAR),
        ("in GET /api/video/ (s)", "never" if listed is None else f"{listed:.1f}", "-",
         listed is not None),
        ("ready (s)", f"{ready:.1f}" if ready else "never", "-", bool(ready)),
        ("film length (s)", f"{video.duration:.1f}", "-", True),
        ("encoder speed (media s per s)", speeds[-1] if speeds else "not logged", "-", True),
        ("viewer: segments played", str(viewing["segments"]), "-", True),
        ("viewer: stalls", str(viewing["stalls"]), "0", viewing["stalls"] == 0),
        ("viewer: seconds waited", f"{viewing['waited']:.1f}", "-", True),
        ("viewer: least slack before a segment's turn (s)", f"{viewing['slack']:.1f}", "> 0",
         viewing["slack"] > 0),
        ("rungs when ready", ",".join(video.rungs), "the whole ladder", video.status == "ready"),
    ]  # fmt: skip
    for name, value, bar, ok in checks:
        table.add(name, value, bar, "yes" if ok else "NO")
    return table, all(ok for *_, ok in checks)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=180, help="length of the 1080p source (>= 180)")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "videoflix-bench")
    args = parser.parse_args()
    require_tools("ffmpeg", "ffprobe")
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix="time-to-watch-", dir=work))
    env = prepare_environment(
        db_name="videoflix_time_to_watch",
        redis_db=int(os.environ.get("BENCH_REDIS_DB", "12")),
        cache_db=int(os.environ.get("BENCH_CACHE_DB", "13")),
        media_root=run_dir / "media",
        extra={"STATIC_ROOT": str(run_dir / "static")},
    )
    os.environ.update(env)
    try:
        table, ok = run(args, work, env)
    finally:
        from django.db import connections

        connections.close_all()
        drop_environment(env)
        shutil.rmtree(run_dir, ignore_errors=True)  # its media and static files; the source stays
    print()
    table.print()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
