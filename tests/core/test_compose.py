"""What docker-compose.yml publishes and hands to nginx (read as YAML; `make containers-check`
validates the whole file with docker-compose itself)."""

from pathlib import Path

import yaml

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def services() -> dict:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def test_web_is_published_on_the_hosts_loopback_only_so_no_client_bypasses_nginx():
    """Security review, finding 7: with nginx in front, a client that reached gunicorn directly
    could set its own X-Forwarded-For and escape per-client limits."""
    [mapping] = services()["web"]["ports"]
    assert mapping == "${WEB_BIND:-127.0.0.1}:${WEB_PORT:-8000}:8000"
    assert set(services()["nginx"]["ports"]) == {"${PROXY_HTTP_PORT:-80}:80", "${PROXY_HTTPS_PORT:-443}:443"}
    for name in ("db", "redis", "worker"):
        assert "ports" not in services()[name], name


def test_nginx_gets_the_shipped_configuration_and_the_signing_key():
    nginx = services()["nginx"]
    assert nginx["profiles"] == ["proxy"]
    assert nginx["environment"]["HLS_SIGNING_KEY"] == "${HLS_SIGNING_KEY:-}"
    mounts = {volume.split(":")[1] for volume in nginx["volumes"]}
    assert {"/etc/nginx/nginx.conf", "/etc/nginx/conf.d/videoflix.conf", "/etc/nginx/njs/hls.js"} <= mounts
