"""The container entrypoint, run for real on this host (see .ci/smoke-entrypoint)."""

import subprocess
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]


def test_entrypoint_serves_health_with_a_worker_and_creates_the_superuser():
    result = subprocess.run(
        ["bash", ".ci/smoke-entrypoint"],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "SMOKE OK" in result.stdout
    assert '"worker":{"ok":true}' in result.stdout
