"""nginx running the shipped configuration (nginx/nginx.conf, videoflix.conf, hls.js).

The files are used as Compose mounts them, with only the host-specific values rewritten: the
upstream, the volume paths, the listening port, and where nginx keeps its pid, logs and
temporary files. A rewrite that no longer finds its text fails loudly, so the shipped files and
this helper cannot drift apart silently.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
NGINX_DIR = BASE_DIR / "nginx"


def nginx_missing() -> str | None:
    """Why nginx with njs cannot run here, or None."""
    if shutil.which("nginx") is None:
        return "nginx is not installed (apt-get install nginx libnginx-mod-http-js)"
    if not Path("/usr/lib/nginx/modules/ngx_http_js_module.so").exists():
        return "nginx's JavaScript module is not installed (apt-get install libnginx-mod-http-js)"
    return None


def _rewrite(text: str, replacements: dict[str, str]) -> str:
    for old, new in replacements.items():
        if old not in text:
            raise AssertionError(f"the shipped nginx configuration no longer contains {old!r}")
        text = text.replace(old, new)
    return text


def write_config(
    work: Path,
    *,
    port: int,
    upstream: str,
    media_root: Path,
    static_root: Path,
    workers: int = 1,
    extra: str = "",
):
    """The shipped configuration, rewritten for this host, in ``work``; returns the main file.
    ``extra`` is added inside the public server block (a benchmark's reference location, say), so
    it shares that server's settings."""
    for folder in ("tmp", "logs"):
        (work / folder).mkdir(parents=True, exist_ok=True)
    site = _rewrite(
        (NGINX_DIR / "videoflix.conf").read_text(),
        {
            "server web:8000;": f"server {upstream};",
            "js_path /etc/nginx/njs/;": f"js_path {NGINX_DIR}/;",
            "/app/media/": f"{media_root}/",
            "/app/static/": f"{static_root}/",
            "listen [::]:80;": "",
            "listen 80;": f"listen 127.0.0.1:{port};",
        },
    )
    head, _, _ = site.rstrip().rpartition("}")
    (work / "videoflix.conf").write_text(f"{head}{extra}}}\n")
    return _write_main(work, workers=workers)


def _write_main(work: Path, *, workers: int) -> Path:
    """The shipped nginx.conf, including the site written to work/videoflix.conf."""
    temp_paths = "".join(
        f"    {kind}_temp_path {work}/tmp/{kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    main = _rewrite(
        (NGINX_DIR / "nginx.conf").read_text(),
        {
            "user nginx;": "user root;" if os.geteuid() == 0 else "",
            "worker_processes auto;": f"worker_processes {workers};",
            "pid /var/run/nginx.pid;": f"pid {work}/nginx.pid;",
            "error_log /var/log/nginx/error.log warn;": f"error_log {work}/logs/error.log warn;",
            "access_log /var/log/nginx/access.log;": "access_log off;\n" + temp_paths,
            "include /etc/nginx/conf.d/videoflix.conf;": f"include {work}/videoflix.conf;",
        },
    )
    config = work / "nginx.conf"
    config.write_text(main)
    return config


SHIPPED_ORIGINS = '    "http://127.0.0.1:5500" $http_origin;\n    "http://localhost:5500" $http_origin;\n'


def write_store_front_config(
    work: Path, *, port: int, upstream: str, origins: tuple[str, ...] = (), workers: int = 1
) -> Path:
    """The shipped front of the object store (nginx/store-front.conf) for this host; `origins`
    replace the SPA origins it trusts as shipped."""
    for folder in ("tmp", "logs"):
        (work / folder).mkdir(parents=True, exist_ok=True)
    trusted = "".join(f'    "{origin}" $http_origin;\n' for origin in origins) or SHIPPED_ORIGINS
    site = _rewrite(
        (NGINX_DIR / "store-front.conf").read_text(),
        {
            "server objectstore:8333;": f"server {upstream};",
            "listen [::]:9000;": "",
            "listen 9000;": f"listen 127.0.0.1:{port};",
            SHIPPED_ORIGINS: trusted,
        },
    )
    (work / "videoflix.conf").write_text(site)
    return _write_main(work, workers=workers)


@contextlib.contextmanager
def store_front(work: Path, *, upstream: str, origins: tuple[str, ...] = (), workers: int = 1):
    """nginx with the shipped store front on a free loopback port; yields its "host:port"."""
    from tests.support.net import free_port

    port = free_port()
    config = write_store_front_config(work, port=port, upstream=upstream, origins=origins, workers=workers)
    with _running(work, config, port, env=dict(os.environ)):
        yield f"127.0.0.1:{port}"


@contextlib.contextmanager
def shipped_nginx(
    work: Path, *, upstream: str, media_root: Path, static_root: Path, signing_key: str, workers=1, extra=""
):
    """Run nginx with the shipped configuration on a free loopback port; yields its base URL."""
    from tests.support.net import free_port

    port = free_port()
    config = write_config(
        work,
        port=port,
        upstream=upstream,
        media_root=media_root,
        static_root=static_root,
        workers=workers,
        extra=extra,
    )
    with _running(work, config, port, env={**os.environ, "HLS_SIGNING_KEY": signing_key}):
        yield f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def _running(work: Path, config: Path, port: int, *, env: dict):
    from tests.support.net import wait_until
    from tests.support.processes import started

    command = ["nginx", "-c", str(config), "-p", str(work), "-g", "daemon off;"]
    log_path = work / "nginx.log"
    with started(command, env=env, log_path=log_path) as process:
        if not wait_until(lambda: _answers(port) or process.poll() is not None, timeout=10, interval=0.05):
            raise RuntimeError("nginx did not open its port in time")
        if process.poll() is not None:
            raise RuntimeError(f"nginx did not start: {log_path.read_text(errors='replace')}")
        yield


def _answers(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=0.2):
        return True
