"""Media made by the real ffmpeg for tests and benchmarks: test patterns with a sine tone."""

import subprocess
from pathlib import Path


def ffmpeg(*args: str, timeout: float = 600) -> None:
    """Run ffmpeg quietly with `args`, overwriting its output; raise when it fails."""
    subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args],
        check=True,
        capture_output=True,
        timeout=timeout,
    )


def make_clip(
    path: Path,
    *,
    width: int,
    height: int,
    seconds: float = 5,
    audio: bool = True,
    rate=25,
    pattern="testsrc2",
    pix_fmt="yuv420p",
) -> Path:
    """An H.264 clip of `pattern` (with a 440 Hz AAC tone unless `audio` is false) at `path`."""
    args = ["-f", "lavfi", "-i", f"{pattern}=size={width}x{height}:rate={rate}:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", pix_fmt]
    if audio:
        args += ["-c:a", "aac", "-b:a", "64k", "-shortest"]
    ffmpeg(*args, str(path))
    return path
