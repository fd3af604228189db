"""Bench-only reference: the smallest WSGI app that sends the benchmark's segment with
wsgi.file_wrapper (sendfile), with no Django, no authentication and no checks. Its rate is
what gunicorn itself can do with the same file, the ceiling of the "seg-django" row."""

import os

SEGMENT = os.environ["BENCH_SEGMENT_PATH"]


def application(environ, start_response):
    handle = open(SEGMENT, "rb")  # noqa: SIM115 - closed by the server through the file wrapper
    size = os.fstat(handle.fileno()).st_size
    start_response("200 OK", [("Content-Type", "video/MP2T"), ("Content-Length", str(size))])
    return environ["wsgi.file_wrapper"](handle, 64 * 1024)
