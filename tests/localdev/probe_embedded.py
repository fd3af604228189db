"""Run by test_launcher.py through `python -m localdev test` (pytest collects it only when named):
tests that use the embedded servers, then fail or wait to be interrupted."""

import os
import time
from pathlib import Path

from django.db import connection


def test_fails_after_the_embedded_database_answered(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
    assert connection.settings_dict["HOST"].startswith("/"), "expected the embedded socket"
    print("the embedded database answered")
    raise AssertionError("this probe fails on purpose")


def test_waits_to_be_interrupted(db):
    Path(os.environ["PROBE_MARKER"]).write_text("started")
    time.sleep(300)
