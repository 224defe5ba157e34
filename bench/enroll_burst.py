"""Enrolment burst: N clients hit the real HTTP enrol endpoint at once for C cupos.

Starts the production server command (gunicorn, one worker, threads) on a throwaway
SQLite database, registers N entrepreneurs, logs each one in, then releases all N
`POST /inscripciones/<slug>` requests together. Reports seats given (must equal C),
waitlisted, errors, throughput and latency percentiles, and the same server's throughput
on its smallest route (`/healthz`) as the baseline. Prints one JSON object last.

    .venv/bin/python bench/enroll_burst.py [--clients 500] [--cupos 100]
"""

import argparse
import json
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def percentile(values, q):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def start_server(env, port, threads):
    proc = subprocess.Popen(
        [str(BIN / "gunicorn"), "--worker-class", "gthread", "-w", "1", "--threads",
         str(threads), "--bind", f"127.0.0.1:{port}", "--no-control-socket",
         "--backlog", "2048", "wsgi:app"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
        stderr=open(env["SV_BENCH_LOG"], "w"))  # noqa: SIM115
    for _ in range(200):
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                return proc
        except requests.ConnectionError:
            time.sleep(0.05)
    proc.terminate()
    raise SystemExit("server did not start")


def create_people(env, n):
    """Bulk-create N entrepreneurs with complete profiles through the services' models."""
    script = f"""
from stdnum.cl import rut
from sv_platform import create_app
from sv_platform.accounts.models import User
from sv_platform.accounts.passwords import hash_password
from sv_platform.core.timeutil import utcnow
from sv_platform.extensions import db
import datetime
app = create_app()
with app.app_context():
    pw = hash_password("clave-bench-segura")
    for i in range({n}):
        body = str(30000000 + i)
        db.session.add(User(rut=f"{{body}}-{{rut.calc_check_digit(body)}}",
            email=f"bench{{i}}@ejemplo.cl", name=f"Persona Bench {{i}}", phone="+56 9 1",
            password_hash=pw, role="entrepreneur", region_code="13", comuna_code="13101",
            sex="otro", birth_date=datetime.date(1990, 1, 1), education_level="media",
            consent_at=utcnow(), consent_version="2026-11"))
    db.session.commit()
"""
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True)


def login(base, i):
    session = requests.Session()
    page = session.get(f"{base}/ingresar", timeout=30).text
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    response = session.post(f"{base}/ingresar", data={
        "identifier": f"bench{i}@ejemplo.cl", "password": "clave-bench-segura",
        "csrf_token": token}, allow_redirects=False, timeout=30)
    assert response.status_code == 302, response.status_code
    # The session is renewed at login, so the form token is read again afterwards.
    page = session.get(f"{base}/mis-inscripciones", timeout=30).text
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    return session, token


def baseline(base, seconds, workers):
    latencies, stop = [], time.perf_counter() + seconds

    def worker():
        session = requests.Session()
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            session.get(f"{base}/healthz", timeout=30)
            latencies.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(latencies) / (time.perf_counter() - t0), latencies


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--cupos", type=int, default=100)
    parser.add_argument("--threads", type=int, default=100, help="gunicorn threads")
    parser.add_argument("--port", type=int, default=5071)
    parser.add_argument("--baseline-seconds", type=float, default=5.0)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="sv-bench-"))
    db_file = tmp / "bench.sqlite3"
    env = {**os.environ, "FLASK_APP": "wsgi", "SV_DATABASE_URL": f"sqlite:///{db_file}",
           "SV_SECRET_KEY": "bench-secret-key-0123456789-0123456789",
           "SV_ARGON2_TIME_COST": "1", "SV_ARGON2_MEMORY_COST": "1024",
           "SV_LOGIN_LIMIT_PER_IP": "100000 per minute",
           "SV_BENCH_LOG": str(tmp / "server.log")}
    subprocess.run([str(BIN / "flask"), "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    subprocess.run([str(BIN / "flask"), "sv", "window", "create", "--offering",
                    "asesoria-legal", "--capacity", str(args.cupos)], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    create_people(env, args.clients)
    base = f"http://127.0.0.1:{args.port}"
    server = start_server(env, args.port, args.threads)
    try:
        with ThreadPoolExecutor(max_workers=32) as pool:
            sessions = list(pool.map(lambda i: login(base, i), range(args.clients)))
        hello_rps, hello_lat = baseline(base, args.baseline_seconds, 32)

        barrier = threading.Barrier(args.clients)
        latencies, statuses, errors = [None] * args.clients, [None] * args.clients, []

        def fire(i):
            session, token = sessions[i]
            barrier.wait()
            t0 = time.perf_counter()
            try:
                response = session.post(f"{base}/inscripciones/asesoria-legal",
                                        data={"csrf_token": token}, allow_redirects=False,
                                        timeout=120)
                statuses[i] = response.status_code
            except requests.RequestException as exc:
                errors.append(repr(exc))
            latencies[i] = time.perf_counter() - t0

        threads = [threading.Thread(target=fire, args=(i,)) for i in range(args.clients)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
    finally:
        server.terminate()
        server.wait(timeout=10)

    with sqlite3.connect(db_file) as conn:
        counts = dict(conn.execute("SELECT status, count(*) FROM enrollment GROUP BY status"))
        used = conn.execute("SELECT used FROM enrollment_window").fetchone()[0]
    lat = [x for x in latencies if x is not None]
    burst_rps = args.clients / elapsed
    result = {
        "benchmark": "enroll_burst", "clients": args.clients, "cupos": args.cupos,
        "seats_given": counts.get("active", 0), "window_used": used,
        "waitlisted": counts.get("waitlisted", 0),
        "errors": len(errors) + sum(1 for s in statuses if s not in (302, None)),
        "burst_seconds": round(elapsed, 3), "enrol_rps": round(burst_rps, 1),
        "p50_ms": round(percentile(lat, 50) * 1000, 1),
        "p95_ms": round(percentile(lat, 95) * 1000, 1),
        "p99_ms": round(percentile(lat, 99) * 1000, 1),
        "baseline_healthz_rps": round(hello_rps, 1),
        "baseline_p50_ms": round(statistics.median(hello_lat) * 1000, 2),
        "enrol_to_baseline_ratio": round(burst_rps / hello_rps, 3),
        "correct": counts.get("active", 0) == min(args.cupos, args.clients) == used,
    }
    print(json.dumps(result))
    return 0 if result["correct"] and result["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
