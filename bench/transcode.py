"""Transcoding benchmark: the one-process HLS ladder against the per-rung baseline.

    python bench/transcode.py [--seconds 30] [--workdir DIR] [--skip-memory] [--keep]

In one run on this machine, with the same generated 1080p source (testsrc2 blended with a
Game-of-Life pattern and film grain, so every frame moves and carries detail; sine audio):

* baseline: one ffmpeg per rung (480p, 720p, 1080p), run one after another, each
  `-vf scale=-2:H -c:v libx264 -c:a aac -hls_time 6 -hls_playlist_type vod` with x264's defaults;
* pipeline: `video.pipeline.ffmpeg` with the project's settings (one decode, split, VIDEO_X264_PRESET,
  VIDEO_X264_CRF, capped bitrates) for the same three rungs, then for the full default ladder, once
  in one ffmpeg process and once in the two processes the job runs at once (start rungs and the
  others, video.pipeline.progressive).

Bars (the exit status is 1 when one is missed):

* pipeline wall time <= baseline wall time / 2.5 (three rungs);
* the job's time for a new film (two processes, the higher rungs held while the start rungs need
  the CPU, publishing as it goes) <= 1.10 x its time for a new version of the same film once it is
  ready (one process): the real `video.pipeline.transcode.video_transcode`, one after the other in
  a child process against a throw-away database, with a thumbnail given so neither makes one;
  the bare ffmpeg commands of both forms (no holds) are reported beside it;
* SSIM of each rung against the source scaled to that rung >= the baseline's - 0.01;
* total output bytes <= the baseline's;
* the five-rung ladder is reported as seconds of video per second of wall time;
* peak RSS of the worker process itself (not ffmpeg) < 200 MB while it runs the real RQ job for a
  >= 2 GiB source. That source is raw 1080p video (cheap to make, ~93 MB per second of video), run
  through `video.pipeline.tasks.transcode_video` by an `rq.SimpleWorker` in a child process against a
  throw-away database (`test_<DB_NAME>_bench`) and the Redis of REDIS_HOST/REDIS_DB, whose
  "transcode" queue must be empty (the job comparison uses the same database and Redis).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))

from tests.support import ffmpeg  # noqa: E402 - after the path is set
from video.pipeline.ffmpeg import encode, ladder  # noqa: E402
from video.pipeline.ffmpeg import probe as ffprobe  # noqa: E402

THREE_RUNGS = ["480p", "720p", "1080p"]
FULL_LADDER = ["120p", "360p", "480p", "720p", "1080p"]
SPEED_FACTOR = 2.5
SPLIT_SLOWDOWN = 1.10  # the job's two processes against one, for the whole ladder
SSIM_TOLERANCE = 0.01
MEMORY_LIMIT_MB = 200
BIG_SOURCE_BYTES = 2 * 1024**3
FFMPEG_TIMEOUT = 3600  # seconds for one source or baseline encode, on a slow machine


def make_source(path: Path, seconds: int) -> None:
    if path.exists():
        return
    print(f"Generating a {seconds} s 1080p30 source with audio (takes a while)...", flush=True)
    ffmpeg(
        "-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=30:duration={seconds}",
        "-f", "lavfi", "-i", "life=size=480x270:rate=30:mold=10:ratio=0.5:death_color=#102030:"
                             "life_color=#c0a060,scale=1920:1080:flags=bicubic,gblur=sigma=2",
        "-f", "lavfi", "-i", f"sine=frequency=330:sample_rate=48000:duration={seconds}",
        "-filter_complex",
        "[0:v][1:v]blend=all_mode=overlay:all_opacity=0.3,noise=alls=3:allf=t,format=yuv420p[v]",
        "-map", "[v]", "-map", "2:a", "-t", str(seconds),
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "16", "-c:a", "aac", "-b:a", "192k",
        str(path), timeout=FFMPEG_TIMEOUT,
    )  # fmt: skip


def make_big_source(path: Path) -> None:
    frame_bytes = 1920 * 1080 * 3 // 2
    seconds = int(BIG_SOURCE_BYTES / (frame_bytes * 30)) + 2
    if path.exists() and path.stat().st_size >= BIG_SOURCE_BYTES:
        return
    print(f"Generating a >= 2 GiB raw 1080p source ({seconds} s)...", flush=True)
    ffmpeg(
        "-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=30:duration={seconds}",
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
        "-c:v", "rawvideo", "-pix_fmt", "yuv420p", "-c:a", "pcm_s16le", str(path),
        timeout=FFMPEG_TIMEOUT,
    )  # fmt: skip


def children_cpu_seconds() -> float:
    """User + system CPU time of the ended child processes (ffmpeg) so far: unlike wall time, it
    does not depend on what else the machine runs."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def run_baseline(source: Path, out: Path) -> float:
    shutil.rmtree(out, ignore_errors=True)
    started = time.monotonic()
    for rung in THREE_RUNGS:
        height = ladder.RUNGS[rung].height
        folder = out / rung
        folder.mkdir(parents=True)
        ffmpeg(
            "-i", str(source),
            "-vf", f"scale=-2:{height}", "-c:v", "libx264", "-c:a", "aac",
            "-hls_time", "6", "-hls_playlist_type", "vod",
            "-hls_segment_filename", str(folder / "%03d.ts"), str(folder / "index.m3u8"),
            timeout=FFMPEG_TIMEOUT,
        )  # fmt: skip
    return time.monotonic() - started


def run_pipeline(
    source: Path, out: Path, rungs: list[str], settings: dict, *, two_processes: bool = False
) -> tuple[float, list]:
    """The ladder in one ffmpeg process, or (`two_processes`) in the two a new film is made by
    (start rungs, then the others at a lower priority), as bare commands: no holds."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    started = time.monotonic()
    plan = ladder.build_plan(
        source=source,
        output_dir=out,
        probe_result=ffprobe.probe(source),
        rung_names=rungs,
        segment_seconds=settings["segment_seconds"],
        encoder=ladder.EncoderSettings(
            preset=settings["preset"], crf=settings["crf"], x264_params=settings["x264_params"]
        ),
    )
    if not two_processes:
        rungs_made = encode.transcode(plan, log_path=out.parent / f"{out.name}.log")
        return time.monotonic() - started, rungs_made
    groups = ladder.split_for_start(plan)
    encode.prepare_folders(plan)
    encode.run_together(
        [ladder.build_transcode_command(group) for group in groups],
        log_paths=[out.parent / f"{out.name}-{index}.log" for index in range(len(groups))],
        watch=lambda encodes: True,
    )
    return time.monotonic() - started, encode.write_complete_playlists(plan)


def ssim(rendition_playlist: Path, source: Path) -> float:
    """SSIM of a rung against the source scaled to the rung's size (bicubic), frame by frame."""
    info = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
        "-of", "csv=p=0", str(rendition_playlist)],
        check=True, capture_output=True, text=True,
    ).stdout.split()[0]  # fmt: skip
    width, height = info.split(",")[:2]
    result = subprocess.run(
        ["ffmpeg", "-v", "info", "-nostats", "-i", str(rendition_playlist), "-i", str(source),
        "-lavfi",
         f"[0:v]setpts=PTS-STARTPTS[d];[1:v]scale={width}:{height}:flags=bicubic,setpts=PTS-STARTPTS[r];"
        "[d][r]ssim",
        "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    match = re.search(r"SSIM .*All:([0-9.]+)", result.stderr)
    if not match:
        raise RuntimeError(f"No SSIM in ffmpeg's output:\n{result.stderr[-2000:]}")
    return float(match.group(1))


def run_child(*arguments: str) -> dict:
    """Run this file with `arguments` in a child process; return the report it prints last."""
    result = subprocess.run(
        [sys.executable, __file__, *arguments],
        capture_output=True,
        text=True,
        env={**os.environ, "LOG_LEVEL": "WARNING"},
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"The child run failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    return json.loads(lines[-1])


@contextlib.contextmanager
def throwaway_project(source: Path):
    """In a fresh process: Django against a throw-away database and MEDIA_ROOT, the empty
    "transcode" queue and a Video row whose source is `source` (linked, not copied)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings")
    os.environ["DB_NAME"] = os.environ.get("DB_NAME", "videoflix") + "_bench"
    media = Path(tempfile.mkdtemp(prefix="vf-bench-media-"))
    os.environ["MEDIA_ROOT"] = str(media)
    import django

    django.setup()
    import django_rq
    from django.db import connection

    from video.models import Category, Video

    queue = django_rq.get_queue("transcode")
    if queue.count:
        sys.exit("The transcode queue is not empty; point REDIS_DB at a spare database.")
    (media / "sources").mkdir()
    os.symlink(source, media / "sources" / source.name)
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        category = Category.objects.create(name="Bench")
        yield queue, Video.objects.create(title="Bench", category=category, source=f"sources/{source.name}")
    finally:
        connection.creation.destroy_test_db(connection.settings_dict["NAME"], verbosity=0)
        shutil.rmtree(media, ignore_errors=True)


def memory_child(big_source: Path) -> None:
    """The RQ job for the big source, run by a SimpleWorker; prints the worker's peak RSS."""
    from django.db import transaction
    from rq import SimpleWorker

    with throwaway_project(big_source) as (queue, video):
        from video.pipeline import services

        with transaction.atomic():
            services.video_enqueue_transcode(video=video)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started = time.monotonic()
        SimpleWorker([queue], connection=queue.connection).work(burst=True, with_scheduler=False)
        seconds = time.monotonic() - started
        video.refresh_from_db()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        report = {
            "status": video.status,
            "error": video.error[-500:],
            "rungs": video.rungs,
            "duration": video.duration,
            "seconds": seconds,
            "rss_before_job_mb": before,
            "peak_rss_mb": peak,
            "source_bytes": big_source.stat().st_size,
        }
        print(json.dumps(report))


def jobs_child(source: Path) -> None:
    """The transcode job for `source` as a new film, then (once it is ready) for a new version of
    it; prints both times (wall and ffmpeg CPU) and statuses."""
    with throwaway_project(source) as (_, video):
        from django.core.files.base import ContentFile

        from video.models import Video
        from video.pipeline import transcode

        thumbnail = subprocess.run(
            ["ffmpeg", "-v", "error", "-i", str(source), "-frames:v", "1", "-f", "mjpeg", "-"],
            capture_output=True,
            check=True,
        ).stdout
        video.thumbnail.save("given.jpg", ContentFile(thumbnail))  # given by staff: no thumbnail job
        report = {}
        for form, job_id in (("new film", "first"), ("new version", "again")):
            Video.objects.filter(pk=video.pk).update(job_id=job_id)
            cpu, started = children_cpu_seconds(), time.monotonic()
            status = transcode.video_transcode(video_id=video.pk, job_id=job_id)
            report[form] = {
                "seconds": time.monotonic() - started,
                "cpu": children_cpu_seconds() - cpu,
                "status": status,
            }
        print(json.dumps(report))


def project_settings() -> dict:
    from decouple import config

    return {
        "preset": config("VIDEO_X264_PRESET", default="veryfast"),
        "crf": config("VIDEO_X264_CRF", default=23, cast=int),
        "x264_params": config("VIDEO_X264_PARAMS", default="me=dia:partitions=i8x8,i4x4"),
        "segment_seconds": config("VIDEO_HLS_SEGMENT_SECONDS", default=4, cast=int),
    }


def compare(args, work: Path, settings: dict, rows: list) -> tuple[Path, float]:
    """Baseline against pipeline on the 1080p source; appends table rows; returns the source."""
    source = work / f"source-1080p-{args.seconds}s-v2.mp4"
    make_source(source, args.seconds)
    duration = ffprobe.probe(source).duration

    print("Baseline: one ffmpeg per rung, x264 defaults ...", flush=True)
    baseline_seconds = run_baseline(source, work / "baseline")
    print(f"  {baseline_seconds:.1f} s", flush=True)
    print(f"Pipeline: one ffmpeg, {settings} ...", flush=True)
    pipeline_seconds, _ = run_pipeline(source, work / "pipeline", THREE_RUNGS, settings)
    print(f"  {pipeline_seconds:.1f} s", flush=True)
    print("Pipeline, full default ladder ...", flush=True)
    full_cpu = children_cpu_seconds()
    full_seconds, full_rungs = run_pipeline(source, work / "pipeline-full", FULL_LADDER, settings)
    full_cpu = children_cpu_seconds() - full_cpu
    print(f"  {full_seconds:.1f} s", flush=True)
    print("Pipeline, full default ladder in two processes (bare ffmpeg, no holds) ...", flush=True)
    split_cpu = children_cpu_seconds()
    split_seconds, _ = run_pipeline(
        source, work / "pipeline-split", FULL_LADDER, settings, two_processes=True
    )
    split_cpu = children_cpu_seconds() - split_cpu
    print(f"  {split_seconds:.1f} s", flush=True)

    print("The transcode job: a new film, then a new version of it ...", flush=True)
    jobs = run_child("--jobs-child", str(source))
    print(f"  {jobs}", flush=True)

    print("SSIM against the source scaled to each rung ...", flush=True)
    for rung in THREE_RUNGS:
        base = ssim(work / "baseline" / rung / "index.m3u8", source)
        ours = ssim(work / "pipeline" / rung / "index.m3u8", source)
        ok = ours >= base - SSIM_TOLERANCE
        rows.append((f"SSIM {rung}", f"{base:.4f}", f"{ours:.4f}", f">= {base - SSIM_TOLERANCE:.4f}", ok))

    baseline_bytes = folder_bytes(work / "baseline")
    pipeline_bytes = sum(folder_bytes(work / "pipeline" / rung) for rung in THREE_RUNGS)
    speed_bar = baseline_seconds / SPEED_FACTOR
    rows.insert(
        0,
        ("wall time, 3 rungs (s)", f"{baseline_seconds:.1f}", f"{pipeline_seconds:.1f}",
         f"<= {speed_bar:.1f} (1/{SPEED_FACTOR})", pipeline_seconds <= speed_bar),
    )  # fmt: skip
    rows.append(
        ("total bytes, 3 rungs (MB)", f"{baseline_bytes / 1e6:.1f}", f"{pipeline_bytes / 1e6:.1f}",
         f"<= {baseline_bytes / 1e6:.1f}", pipeline_bytes <= baseline_bytes),
    )  # fmt: skip
    rows.append(
        ("5-rung ladder: video s per wall s", "-", f"{duration / full_seconds:.2f}",
         f"({full_seconds:.1f} s for {duration:.0f} s: {', '.join(r.name for r in full_rungs)})", True),
    )  # fmt: skip
    rows.append(
        ("5-rung ladder, bare ffmpeg (s)", f"{full_seconds:.1f} (one)", f"{split_seconds:.1f} (two)",
         f"(report only: +{split_seconds / full_seconds - 1:.0%}; CPU {full_cpu:.1f} s against "
         f"{split_cpu:.1f} s, +{split_cpu / full_cpu - 1:.0%})", True),
    )  # fmt: skip
    one, two = jobs["new version"], jobs["new film"]
    split_bar = one["seconds"] * SPLIT_SLOWDOWN
    ok = split_bar >= two["seconds"] and one["status"] == two["status"] == "ready"
    rows.append(
        ("the job, to ready (s)", f"{one['seconds']:.1f} (one)", f"{two['seconds']:.1f} (two)",
         f"<= {split_bar:.1f} (one process + {SPLIT_SLOWDOWN - 1:.0%}; CPU {one['cpu']:.1f} s against "
         f"{two['cpu']:.1f} s, +{two['cpu'] / one['cpu'] - 1:.0%})", ok),
    )  # fmt: skip

    return source, duration


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=30, help="length of the 1080p source (>= 30)")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "videoflix-bench")
    parser.add_argument("--skip-memory", action="store_true", help="skip the 2 GiB memory run")
    parser.add_argument("--memory-only", action="store_true", help="only the 2 GiB memory run")
    parser.add_argument("--keep", action="store_true", help="keep the generated sources for the next run")
    parser.add_argument("--memory-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--jobs-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
        return 0
    if args.jobs_child:
        jobs_child(args.jobs_child)
        return 0

    settings = project_settings()
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    source, duration = None, 0.0
    if not args.memory_only:
        source, duration = compare(args, work, settings, rows)

    if not args.skip_memory:
        big = work / "source-raw-1080p-2GiB.mkv"
        make_big_source(big)
        print(
            f"Worker memory: the real RQ job on a {big.stat().st_size / 1024**3:.2f} GiB source ...",
            flush=True,
        )
        report = run_child("--memory-child", str(big))
        ok = report["status"] == "ready" and report["peak_rss_mb"] < MEMORY_LIMIT_MB
        rows.append(
            ("worker peak RSS, 2 GiB source (MB)", "-", f"{report['peak_rss_mb']:.0f}",
             f"< {MEMORY_LIMIT_MB} (job {report['status']}, {report['seconds']:.0f} s, "
             f"{', '.join(report['rungs'])}; {report['rss_before_job_mb']:.0f} MB before the job)", ok),
        )  # fmt: skip
        if not args.keep:
            big.unlink(missing_ok=True)

    failures = [row for row in rows if not row[4]]
    widths = [max(len(str(row[i])) for row in rows) for i in range(4)]
    header = ("measure", "baseline", "pipeline", "bar")
    widths = [max(w, len(h)) for w, h in zip(widths, header, strict=True)]
    print()
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + "  result")
    for row in rows:
        cells = [str(cell).ljust(width) for cell, width in zip(row[:4], widths, strict=True)]
        print("  ".join(cells) + "  " + ("pass" if row[4] else "FAIL"))
    if source:
        print(f"\nsource: {source.name}, {duration:.1f} s; settings: {settings}; cores: {os.cpu_count()}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
