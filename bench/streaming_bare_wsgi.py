"""Bench-only reference: the smallest WSGI app that sends a segment below BENCH_HLS_ROOT with
wsgi.file_wrapper (sendfile), with no Django, no signature and no checks. Its rate is what
gunicorn itself can do with the same files, the ceiling of the "seg-gunicorn" row."""

import os

ROOT = os.environ["BENCH_HLS_ROOT"]


def application(environ, start_response):
    handle = open(ROOT + environ["PATH_INFO"], "rb")  # noqa: SIM115 - closed by the server's file wrapper
    size = os.fstat(handle.fileno()).st_size
    start_response("200 OK", [("Content-Type", "video/MP2T"), ("Content-Length", str(size))])
    return environ["wsgi.file_wrapper"](handle, 64 * 1024)
