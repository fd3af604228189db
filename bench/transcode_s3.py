"""Upload-to-ready with MEDIA_STORAGE=s3 against local, and two workers against one (s3).

    python bench/transcode_s3.py [--seconds 20] [--runs 2] [--skip-workers] [--workdir DIR]

Real processes, as in production: gunicorn (gunicorn.conf.py), `manage.py rqworker` workers, a
SeaweedFS (`weed mini`, tests.support.objectstore) on loopback and PostgreSQL/Redis of this
machine (a throw-away database `<DB_NAME>_bench_s3`; REDIS_DB and the cache database after it
are flushed). The source is bench/transcode.py's generated 1080p film with audio, uploaded through
the admin; "upload-to-ready" runs from the start of the upload request until the row is ready,
for the full default ladder. Local and s3 runs alternate, and the median of each is compared.

Bars (exit status 1 when one is missed):

* s3 upload-to-ready <= 1.15 x local upload-to-ready (the same source and settings).

Reported: four uploads (the same source) transcoded by one worker, then by two workers with
private MEDIA_ROOTs, wall time from the first upload until all four are ready.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))

from bench.common import Table, drop_environment, prepare_environment, require_tools  # noqa: E402
from bench.transcode import make_source  # noqa: E402
from tests.support import admin_session, gunicorn, manage, rq_worker, wait_until  # noqa: E402
from tests.support.objectstore import seaweed_store  # noqa: E402

BAR = 1.15
PASSWORD = "Bench-Passw0rd!"
EMAIL = "bench@example.com"


def upload(session, base_url: str, source: Path, title: str, category: int) -> None:
    form = session.get(f"{base_url}/admin/video/video/add/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)[1]
    with open(source, "rb") as handle:
        answer = session.post(
            f"{base_url}/admin/video/video/add/",
            data={"csrfmiddlewaretoken": token, "title": title, "description": "", "category": category},
            files={"source": (source.name, handle, "video/mp4")},
            headers={"Referer": f"{base_url}/admin/video/video/add/"},
            timeout=600,
            allow_redirects=False,
        )
    if answer.status_code != 302:
        raise RuntimeError(f"The upload was refused ({answer.status_code}): {answer.text[-1500:]}")


def query(env: dict, sql: str, parameters: tuple = ()) -> list[tuple]:
    import psycopg2

    connection = psycopg2.connect(
        dbname=env["DB_NAME"], user=env["DB_USER"], host=env["DB_HOST"], port=env["DB_PORT"],
        password=env.get("DB_PASSWORD", ""),
    )  # fmt: skip
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, parameters)
            return cursor.fetchall()
    finally:
        connection.close()


def finished(env: dict, titles: list[str]) -> bool:
    rows = query(env, "SELECT status, error FROM video_video WHERE title = ANY(%s)", (titles,))
    return len(rows) == len(titles) and all(status in ("ready", "failed") for status, _ in rows)


def failures(env: dict, titles: list[str]) -> list[str]:
    rows = query(env, "SELECT error FROM video_video WHERE title = ANY(%s) AND status <> 'ready'", (titles,))
    return [error for (error,) in rows]


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process, the children it has waited for (a work horse and its ffmpeg),
    and its live descendants."""
    ticks = os.sysconf("SC_CLK_TCK")
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    total = sum(int(value) for value in fields[11:15]) / ticks
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            total += tree_cpu(int(child))
    return total


def timed_uploads(
    env: dict, work: Path, source: Path, *, uploads: int, workers: int, label: str, store=None
) -> tuple[float, float]:
    """Seconds from the first upload until `uploads` videos are ready, with `workers` workers
    (on s3 each with a MEDIA_ROOT of its own; local mode needs the one disk web writes to), and the
    CPU seconds web, workers, ffmpeg and the store spent meanwhile."""
    shared_disk = env.get("MEDIA_STORAGE", "local") == "local"
    with ExitStack() as stack:
        web = stack.enter_context(gunicorn(dict(env, MEDIA_ROOT=str(work / "web")), work))
        processes = [web.process.pid]
        for number in range(workers):
            media = work / ("web" if shared_disk else f"worker-{number}")
            worker_env = dict(env, MEDIA_ROOT=str(media))
            name = f"{label}-{number}"
            processes.append(
                stack.enter_context(rq_worker(worker_env, work, queues=("transcode",), name=name)).process.pid
            )
        before = sum(map(tree_cpu, processes)) + (tree_cpu(store.process.pid) if store else 0)
        session = admin_session(web.url, EMAIL, PASSWORD)
        titles = [f"{label} {number}" for number in range(uploads)]
        [(category,)] = query(env, "SELECT id FROM video_category WHERE name = 'Bench'")
        started = time.monotonic()
        for title in titles:
            upload(session, web.url, source, title, category)
        uploaded = time.monotonic() - started
        if not wait_until(lambda: finished(env, titles), timeout=3600, interval=0.2):
            raise RuntimeError(f"{label}: the videos did not become ready in an hour")
        seconds = time.monotonic() - started
        cpu = sum(map(tree_cpu, processes)) + (tree_cpu(store.process.pid) if store else 0) - before
        steps = [line.split(" took ")[-1] for log in work.glob(f"{label}-*.log")
                 for line in log.read_text().splitlines() if "Transcode of video" in line]  # fmt: skip
        print(f"  upload request(s) {uploaded:.1f} s; worker steps: {'; '.join(steps)}", flush=True)
        if failures(env, titles):
            raise RuntimeError(f"{label}: a transcode failed: {failures(env, titles)[0][-1500:]}")
        return seconds, cpu


def environment(args, work: Path, store=None) -> dict:
    # Production settings (DEBUG false): the admin needs the collected static files' manifest.
    static = args.workdir / "static"
    extra = {
        "DB_CONN_MAX_AGE": "0",
        "VIDEO_TRANSCODE_RETRIES": "0",
        "STATIC_ROOT": str(static),
        "LOG_LEVEL": "INFO",
    }
    if store:
        extra |= store.env("bench-media")
    env = prepare_environment(
        db_name=os.environ.get("DB_NAME", "videoflix") + "_bench_s3",
        redis_db=args.redis_db,
        cache_db=args.redis_db + 1,
        media_root=work / "web",
        extra=extra,
    )
    manage(env, "migrate", "--noinput")
    if not (static / "staticfiles.json").exists():
        manage(env, "collectstatic", "--noinput", "--verbosity", "0")
    create = (
        "from authentication.models import User; from video.models import Category;"
        f"User.objects.create_superuser(email='{EMAIL}', password='{PASSWORD}');"
        "Category.objects.get_or_create(name='Bench')"
    )
    manage(env, "shell", "-c", create)
    if store:
        manage(env, "storage_setup")
    return env


def run_mode(args, work: Path, source: Path, mode: str, run: int, store) -> tuple[float, float]:
    folder = work / f"{mode}-{run}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    env = environment(args, folder, store if mode == "s3" else None)
    try:
        s3_store = store if mode == "s3" else None
        return timed_uploads(env, folder, source, uploads=1, workers=1, label=f"{mode}-{run}", store=s3_store)
    finally:
        drop_environment(env)
        shutil.rmtree(folder, ignore_errors=True)


def compare_modes(args, work: Path, source: Path, store, table: Table) -> bool:
    """Alternating local and s3 runs; adds the rows; True when the bar holds."""
    runs: dict[str, list[tuple[float, float]]] = {"local": [], "s3": []}
    for run in range(args.runs):
        for mode in ("local", "s3"):
            print(f"Upload-to-ready, {mode}, run {run + 1} ...", flush=True)
            runs[mode].append(run_mode(args, work, source, mode, run, store))
            print(f"  {runs[mode][-1][0]:.1f} s, {runs[mode][-1][1]:.1f} CPU s", flush=True)
    local, s3 = (statistics.median(wall for wall, _ in runs[mode]) for mode in ("local", "s3"))
    local_cpu, s3_cpu = (statistics.median(cpu for _, cpu in runs[mode]) for mode in ("local", "s3"))
    ok = s3 <= local * BAR
    verdict = "pass" if ok else "FAIL"
    table.add("upload-to-ready, median (s)", f"{local:.1f}", f"{s3:.1f}", f"s3 <= {BAR} x local", verdict)
    table.add("ratio s3 / local", "-", f"{s3 / local:.2f}", f"<= {BAR}", verdict)
    table.add(
        "runs (s)", *(" ".join(f"{wall:.1f}" for wall, _ in runs[mode]) for mode in ("local", "s3")), "-", "-"
    )
    table.add(
        "CPU s (web, worker, ffmpeg, store)",
        f"{local_cpu:.1f}",
        f"{s3_cpu:.1f}",
        "report",
        f"{s3_cpu / local_cpu:.2f}x",
    )
    return ok


def compare_workers(args, work: Path, source: Path, store, table: Table) -> None:
    """Four uploads on s3 with one worker, then with two (private disks); adds the rows."""
    walls = {}
    for workers in (1, 2):
        print(f"Four uploads on s3, {workers} worker(s) ...", flush=True)
        folder = work / f"workers-{workers}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        env = environment(args, folder, store)
        try:
            walls[workers], _ = timed_uploads(
                env, folder, source, uploads=4, workers=workers, label=f"w{workers}"
            )
        finally:
            drop_environment(env)
            shutil.rmtree(folder, ignore_errors=True)
        print(f"  {walls[workers]:.1f} s", flush=True)
    table.add("4 uploads, 1 worker, wall (s)", "-", f"{walls[1]:.1f}", "report", "-")
    table.add(
        "4 uploads, 2 workers, wall (s)",
        "-",
        f"{walls[2]:.1f}",
        "report",
        f"speed-up {walls[1] / walls[2]:.2f}x",
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=20, help="length of the generated 1080p source")
    parser.add_argument("--runs", type=int, default=3, help="runs per mode (alternating)")
    parser.add_argument("--skip-workers", action="store_true", help="skip the one-vs-two-workers report")
    parser.add_argument("--workers-only", action="store_true", help="only the one-vs-two-workers report")
    parser.add_argument("--redis-db", type=int, default=int(os.environ.get("REDIS_DB", "2")))
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "videoflix-bench-s3")
    args = parser.parse_args()
    require_tools("ffmpeg", "ffprobe")
    args.workdir.mkdir(parents=True, exist_ok=True)
    source = args.workdir / f"source-1080p-{args.seconds}s-v2.mp4"
    make_source(source, args.seconds)
    table, ok = Table(["measure", "local", "s3", "bar", "result"]), True
    with seaweed_store() as store:
        store.client().create_bucket(Bucket="bench-media")
        if not args.workers_only:
            ok = compare_modes(args, args.workdir, source, store, table)
        if not args.skip_workers:
            compare_workers(args, args.workdir, source, store, table)
    print()
    table.print()
    print(
        f"\nsource: {source.name}; cores: {os.cpu_count()}; load average at the end: {os.getloadavg()[0]:.1f}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
