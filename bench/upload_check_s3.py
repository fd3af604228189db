"""How to run the upload checks on a film that is already in the bucket (MEDIA_STORAGE=s3, the
admin's browser-to-bucket uploads): download it to a temporary file and check that, or let
ffprobe and ffmpeg read a presigned URL (what video/uploads/bucket.py does: it reads the index and
the last seconds only, so the time and the web host's disk do not grow with the film).

    python bench/upload_check_s3.py [--megabytes 400] [--rounds 3]

A SeaweedFS (`weed mini`, tests.support.objectstore) holds one H.264 MP4 of about `--megabytes`,
once with its index (moov) at the end, as ffmpeg writes by default, and once at the front
(+faststart). Each row is the best of `--rounds` runs of the same two checks as a plain upload:
ffprobe of the container, and a decode of the last two seconds. A report, no bar.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))

from tests.support.media import ffmpeg, make_clip  # noqa: E402
from tests.support.objectstore import seaweed_store  # noqa: E402

BUCKET = "bench-upload-check"


def checks(source: str) -> float:
    """ffprobe, then a decode of the last two seconds, as video.pipeline.ffmpeg.probe does."""
    probed = subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", source],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    duration = float(json.loads(probed.stdout)["format"]["duration"])
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-ss", f"{max(0.0, duration - 2):.3f}", "-i", source,
         "-map", "0:v:0", "-f", "null", "-"],
        check=True, capture_output=True,
    )  # fmt: skip
    return duration


def best(rounds: int, action) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def film(work: Path, megabytes: int, faststart: bool) -> Path:
    clip = make_clip(work / "clip.mp4", width=1280, height=720, seconds=20)
    loops = max(0, round(megabytes * 1024 * 1024 / clip.stat().st_size) - 1)
    path = work / ("faststart.mp4" if faststart else "moov-at-end.mp4")
    flags = ["-movflags", "+faststart"] if faststart else []
    ffmpeg("-stream_loop", str(loops), "-i", str(clip), "-c", "copy", *flags, str(path))
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--megabytes", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, seaweed_store() as store:
        work = Path(folder)
        client = store.client()
        client.create_bucket(Bucket=BUCKET)
        print(f"{'file':<14} {'MB':>6} {'download + check s':>20} {'presigned URL s':>16}")
        for faststart in (False, True):
            path = film(work, options.megabytes, faststart)
            client.upload_file(str(path), BUCKET, path.name)
            url = client.generate_presigned_url(
                "get_object", Params={"Bucket": BUCKET, "Key": path.name}, ExpiresIn=3600
            )
            copy = work / "copy.mp4"

            def downloaded(key=path.name, copy=copy):
                client.download_file(BUCKET, key, str(copy))
                checks(str(copy))
                copy.unlink()

            by_copy = best(options.rounds, downloaded)
            by_url = best(options.rounds, lambda url=url: checks(url))
            size = path.stat().st_size / 1024 / 1024
            print(f"{path.stem:<14} {size:>6.0f} {by_copy:>20.2f} {by_url:>16.2f}")
            path.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
