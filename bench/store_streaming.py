"""Segment throughput from the object store (MEDIA_STORAGE=s3) against nginx static, with wrk.

    python bench/store_streaming.py [--duration 30] [--rounds 6] [--connections 16]

A SeaweedFS (`weed mini`, tests.support.objectstore) holds 4 rungs x 50 segments of 1 MiB; the
same files lie on disk. Rows, each cycling through the 200 distinct URLs as a player would:

  seg-nginx   the files from a plain static location of the shipped nginx: the yardstick
  seg-store   SigV4 presigned URLs of the store itself (what a store that answers credentialed
              CORS, such as AWS S3, would serve)
  seg-front   presigned URLs through the shipped front (nginx/store-front.conf, which passes the
              request on and adds the SPA's CORS answer): what the Compose profile s3 serves

Rows run in alternating slices (bench/streaming_bench.py's `measure`). A report, no bar: the
store runs on the same two cores as wrk here, which a production store would not.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))

from bench.streaming_bench import DIRECT_PREFIX, direct_location, measure  # noqa: E402
from tests.support.nginx import nginx_missing, shipped_nginx, store_front  # noqa: E402
from tests.support.objectstore import REGION, seaweed_store  # noqa: E402

RUNGS = ("360p", "480p", "720p", "1080p")
SEGMENTS_PER_RUNG = 50
SEGMENT_SIZE = 1024 * 1024
BUCKET = "bench-segments"
VERSION = "bench"


def write_segments(hls_root: Path) -> list[str]:
    """The segment files on disk; returns their names below hls_root ("1/<version>/480p/000.ts")."""
    names = []
    for rung in RUNGS:
        folder = hls_root / "1" / VERSION / rung
        folder.mkdir(parents=True)
        for number in range(SEGMENTS_PER_RUNG):
            (folder / f"{number:03d}.ts").write_bytes(bytes([0x47]) + os.urandom(SEGMENT_SIZE - 1))
            names.append(f"1/{VERSION}/{rung}/{number:03d}.ts")
    return names


def signer(endpoint: str):
    import boto3
    from botocore.config import Config

    from tests.support.objectstore import ACCESS_KEY, SECRET_KEY

    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint, region_name=REGION, aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )  # fmt: skip


def signed_paths(client, names: list[str]) -> list[str]:
    """Path and query of a presigned GET per segment (valid an hour)."""
    paths = []
    for name in names:
        url = client.generate_presigned_url(
            "get_object", Params={"Bucket": BUCKET, "Key": f"hls/{name}"}, ExpiresIn=3600
        )
        paths.append("/" + url.split("/", 3)[3])
    return paths


def run(work: Path, options) -> dict:
    hls_root = work / "hls"
    names = write_segments(hls_root)
    with seaweed_store() as store:
        client = store.client()
        client.create_bucket(Bucket=BUCKET)
        for name in names:
            client.upload_file(
                str(hls_root / name), BUCKET, f"hls/{name}", ExtraArgs={"ContentType": "video/MP2T"}
            )
        upstream = store.endpoint.removeprefix("http://")
        with (
            store_front(work / "front", upstream=upstream, workers=2) as front,
            shipped_nginx(
                work / "nginx", upstream="127.0.0.1:9", media_root=work, static_root=work,
                signing_key="x" * 40, workers=2, extra=direct_location(hls_root),
            ) as static,
        ):  # fmt: skip
            files = {row: work / f"{row}.txt" for row in ("seg-nginx", "seg-store", "seg-front")}
            files["seg-nginx"].write_text("".join(f"{DIRECT_PREFIX}{name}\n" for name in names))
            files["seg-store"].write_text("\n".join(signed_paths(client, names)) + "\n")
            front_client = signer(f"http://{front}")
            files["seg-front"].write_text("\n".join(signed_paths(front_client, names)) + "\n")
            rows = {
                "seg-nginx": (f"{static}/", {"paths": files["seg-nginx"]}),
                "seg-store": (f"{store.endpoint}/", {"paths": files["seg-store"]}),
                "seg-front": (f"http://{front}/", {"paths": files["seg-front"]}),
            }
            return measure(rows, options)


def report(results: dict, options) -> None:
    print(f"\nwrk: 2 threads, {options.connections} connections, {options.duration} s per row in")
    print(
        f"{options.rounds} slices; {len(RUNGS) * SEGMENTS_PER_RUNG} distinct 1 MiB segments; nginx 2 workers;"
    )
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs.\n")
    print(f"{'row':<12}{'req/s':>10}{'MB/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'vs nginx':>10}")
    base = results["seg-nginx"]["rps"]
    for name, row in results.items():
        latency = f"{row['p50_us'] / 1000:>9.2f}{row['p99_us'] / 1000:>9.2f}"
        share = f"{row['rps'] / base:>10.0%}"
        print(f"{name:<12}{row['rps']:>10.0f}{row['mb_s']:>10.1f}{latency}{row['errors']:>8}{share}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=30, help="seconds per row (default 30)")
    parser.add_argument("--rounds", type=int, default=6, help="slices per row (default 6)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    options = parser.parse_args()
    reason = nginx_missing() or (None if shutil.which("wrk") else "wrk is required (apt-get install wrk)")
    if reason:
        sys.exit(reason)
    work = Path(tempfile.mkdtemp(prefix="vf-store-bench-"))
    work.chmod(0o755)
    try:
        results = run(work, options)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(results, options)
    errors = sum(row["errors"] for row in results.values())
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
