"""nginx (Debian's package) with the repository's site locations on a loopback port in
front of the two servers: pages, static files from disk with a long cache, and the chat
over WebSocket through the proxy."""

import getpass
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.production.conftest import ROOT, free_port, send

pytestmark = pytest.mark.xdist_group("production")  # one worker, one pair of servers

LOCATIONS = ROOT / "deploy" / "nginx" / "sv-platform-locations.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@pytest.fixture(scope="session")
def nginx(cluster, tmp_path_factory):
    if not Path(NGINX).exists():
        pytest.skip("nginx is not installed")
    tmp = tmp_path_factory.mktemp("nginx")
    (tmp / "locations.conf").write_text(
        LOCATIONS.read_text().replace("/srv/sv-platform/", f"{ROOT}/")
    )
    port = free_port()
    servers = "\n".join(f"        server 127.0.0.1:{s.port};" for s in cluster.servers)
    mime = "include /etc/nginx/mime.types;" if Path("/etc/nginx/mime.types").exists() else ""
    temp_paths = "\n".join(
        f"    {kind}_temp_path {tmp}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (tmp / "nginx.conf").write_text(
        f"""
user {getpass.getuser()};
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 256; }}
http {{
    {mime}
    access_log {tmp}/access.log;
{temp_paths}
    upstream sv_app {{
{servers}
        keepalive 8;
    }}
    upstream sv_socketio {{
        ip_hash;
{servers}
    }}
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        '' close;
    }}
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        include {tmp}/locations.conf;
    }}
}}
"""
    )
    proc = subprocess.Popen(
        [
            NGINX,
            "-p",
            str(tmp),
            "-e",
            str(tmp / "error.log"),
            "-c",
            str(tmp / "nginx.conf"),
            "-g",
            "daemon off;",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            requests.get(base + "/healthz", timeout=2)
            break
        except requests.RequestException:
            time.sleep(0.1)
    else:
        proc.terminate()
        pytest.fail("nginx did not start: " + (tmp / "error.log").read_text())
    yield base
    proc.terminate()
    proc.wait(timeout=10)


def test_pages_go_through_nginx_to_the_servers(nginx):
    response = requests.get(f"{nginx}/", timeout=30)
    assert response.status_code == 200
    assert "Servicios Virtuales" in response.text
    assert response.headers["Server"].startswith("nginx")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]  # the app's


def test_static_files_come_from_disk_with_a_long_cache(nginx):
    response = requests.get(f"{nginx}/static/css/app.css", timeout=30)
    assert response.status_code == 200
    assert response.content == (ROOT / "sv_platform/static/css/app.css").read_bytes()
    assert "max-age=604800" in response.headers["Cache-Control"]
    assert "Content-Security-Policy" not in response.headers  # nginx answered, not the app
    vendor = requests.get(f"{nginx}/static/vendor/bootstrap/css/bootstrap.min.css", timeout=30)
    assert vendor.status_code == 200
    assert "max-age=31536000" in vendor.headers["Cache-Control"]


def test_chat_over_websocket_through_nginx(nginx, consulta, chat_clients):
    consultation_id, owner_email, advisor_email = consulta
    owner = chat_clients(nginx, owner_email)
    advisor = chat_clients(nginx, advisor_email)
    assert (owner.transport, advisor.transport) == ("websocket", "websocket")
    for client in (owner, advisor):
        assert client.call("join", {"consultation_id": consultation_id})["ok"]
    question = send(owner, consultation_id, "¿Me escuchas a través del proxy?", "proxy-1")
    answer = send(advisor, consultation_id, "Sí, fuerte y claro.", "proxy-2")
    assert advisor.wait_for(lambda got: [m["id"] for m in got] == [question["id"]])
    assert owner.wait_for(lambda got: [m["id"] for m in got] == [answer["id"]])
