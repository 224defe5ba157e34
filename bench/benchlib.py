"""What the server benchmarks share: paths, a gunicorn on a free port, a logged-in
session with its CSRF token, percentiles."""

import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CSRF_META = re.compile(r'name="csrf-token" content="([^"]+)"')


def percentile(values, q):
    """The q-th percentile (nearest rank) of `values`, or None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def ms(value):
    return None if value is None else round(value * 1000, 2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(
    env: dict, *, threads: int, log: Path, app: str = "wsgi:app", cwd: Path = ROOT
) -> tuple[subprocess.Popen, str]:
    """The production server command on a free loopback port; returns (process, base URL)
    once `/` answers."""
    port = free_port()
    proc = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "--worker-class",
            "gthread",
            "-w",
            "1",
            "--threads",
            str(threads),
            "--bind",
            f"127.0.0.1:{port}",
            "--no-control-socket",
            "--backlog",
            "2048",
            app,
        ],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(log, "w"),
    )  # noqa: SIM115 - closed with the process
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            requests.get(base + "/", timeout=5)
            return proc, base
        except requests.RequestException:
            time.sleep(0.05)
    proc.terminate()
    raise SystemExit(f"server did not start: {Path(log).read_text()}")


def stop(proc: subprocess.Popen) -> None:
    """Stop the server; one still draining open WebSockets after 10 s is killed."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def csrf_token(html: str) -> str:
    return CSRF_META.search(html).group(1)


def login(
    base: str, identifier: str, password: str, *, then: str = "/perfil"
) -> tuple[requests.Session, str]:
    """Log in through the real form; the session is renewed at login, so the CSRF token
    for later forms is read from the page `then`."""
    session = requests.Session()
    token = csrf_token(session.get(f"{base}/ingresar", timeout=30).text)
    response = session.post(
        f"{base}/ingresar",
        data={"identifier": identifier, "password": password, "csrf_token": token},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 302, (identifier, response.status_code)
    return session, csrf_token(session.get(f"{base}{then}", timeout=30).text)


def steady_load(url: str, seconds: float, connections: int, cookie: str | None = None) -> dict:
    """`connections` threads GET `url` back to back for `seconds` (a wrk stand-in)."""
    latencies, errors, lock = [], [0], threading.Lock()
    stop_at = time.perf_counter() + seconds

    def worker():
        session = requests.Session()
        headers = {"Cookie": cookie} if cookie else {}
        mine, bad = [], 0
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            response = session.get(url, headers=headers, allow_redirects=False, timeout=10)
            mine.append(time.perf_counter() - t0)
            bad += response.status_code != 200
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": ms(percentile(latencies, 50)),
        "p95_ms": ms(percentile(latencies, 95)),
        "p99_ms": ms(percentile(latencies, 99)),
        "requests": len(latencies),
        "errors": errors[0],
    }
