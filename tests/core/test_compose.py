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


def test_the_s3_profile_has_an_object_store_with_its_volume_health_check_and_bucket():
    store = services()["objectstore"]
    assert store["profiles"] == ["s3"]
    assert "objectstore_data:/data" in store["volumes"]
    assert "objectstore_data" in yaml.safe_load(COMPOSE.read_text())["volumes"]
    assert "/healthz" in " ".join(store["healthcheck"]["test"])
    assert "-bucket=${AWS_STORAGE_BUCKET_NAME:-videoflix-media}" in store["command"]
    assert set(store["environment"]) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    assert "ports" not in store  # only web, workers and the front reach it


def test_the_store_front_gets_the_shipped_configuration_and_depends_on_a_healthy_store():
    front = services()["media-front"]
    assert front["profiles"] == ["s3"]
    mounts = {volume.split(":")[0]: volume.split(":")[1] for volume in front["volumes"]}
    assert mounts["./nginx/store-front.conf"] == "/etc/nginx/conf.d/videoflix.conf"
    assert front["depends_on"]["objectstore"]["condition"] == "service_healthy"


def test_workers_can_be_scaled_and_reach_the_store_by_its_service_name():
    """`docker compose --profile s3 up --scale worker=3`: no fixed name and no host port."""
    worker = services()["worker"]
    assert "container_name" not in worker and "ports" not in worker
    for name in ("web", "worker"):
        environment = services()[name]["environment"]
        assert environment["AWS_S3_ENDPOINT_URL"] == "${AWS_S3_ENDPOINT_URL:-http://objectstore:8333}"
    assert "--profile s3" in COMPOSE.read_text().splitlines()[4]
