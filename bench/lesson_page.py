"""Lesson page throughput: a logged-in, enrolled person reading a lesson vs hello-world.

Starts the production server command (gunicorn gthread, 1 worker, 20 threads) on a
throwaway migrated SQLite database with the course content and demo accounts loaded,
opens a window for the course, logs in as the demo entrepreneur and enrols through the
real endpoint. Then measures, on loopback and for a bounded time, a lesson page that needs
the enrolment (not the free preview), the app's cheapest logged-in page (/privacidad, for
context) and, under the same gunicorn command, a separate hello-world Flask app
(bench/hello_app.py). Uses wrk when installed, otherwise a Python
thread-pool load generator. Prints one JSON object on the last line.

    .venv/bin/python bench/lesson_page.py [--seconds 10] [--connections 32]
        [--database-url postgresql+psycopg://postgres@127.0.0.1/postgres]
        [--servers 2 --redis redis://127.0.0.1:6379/14]

With --servers N the lesson load is split over the N servers (one wrk per server, the
connections shared out; req/s added up, each percentile the worst of the N); the
hello-world baseline stays one process, as before.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from benchlib import (
    BIN,
    ROOT,
    BenchDatabase,
    add_production_args,
    login,
    production_env,
    server_cpu_seconds,
    setup_label,
    start_gunicorn,
    start_servers,
    steady_load,
    stop,
)

COURSE, LESSON = "vende-en-linea", "catalogo-y-fotos"
DEMO_EMAIL, DEMO_PASSWORD = "emprendedora@demo.serviciosvirtuales.cl", "Servicios-Demo-2026"
THREADS = int(os.environ.get("BENCH_THREADS", "20"))
USER_AGENT = requests.utils.default_user_agent()
WRK_SCRIPT = """
done = function(summary, latency, requests)
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "errors_status": %d, '
    .. '"errors_other": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d}\\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def login_and_enrol(base: str) -> requests.Session:
    session, token = login(base, DEMO_EMAIL, DEMO_PASSWORD, then=f"/cursos/{COURSE}")
    session.post(
        f"{base}/inscripciones/{COURSE}",
        data={"csrf_token": token},
        allow_redirects=False,
        timeout=10,
    )
    lesson = session.get(f"{base}/cursos/{COURSE}/{LESSON}", timeout=10)
    assert lesson.status_code == 200 and "Marcar como completada" in lesson.text, (
        "the demo person could not open the lesson"
    )
    return session


def run_wrk(url: str, cookie: str | None, seconds: int, connections: int, tmp: Path) -> dict:
    script = tmp / "report.lua"
    script.write_text(WRK_SCRIPT)
    command = [
        "wrk",
        "-t",
        "4",
        "-c",
        str(connections),
        "-d",
        f"{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
    ]
    if cookie:
        # The browser that logged in: Flask-Login's session protection compares the
        # User-Agent, and a different one would rewrite the session cookie every request.
        command += ["-H", f"Cookie: {cookie}", "-H", f"User-Agent: {USER_AGENT}"]
    output = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    line = next(x for x in output.splitlines() if x.startswith("WRKJSON "))
    raw = json.loads(line[len("WRKJSON ") :])
    return {
        "rps": raw["requests"] / (raw["duration_us"] / 1e6),
        "p50_ms": raw["p50_us"] / 1000,
        "p95_ms": raw["p95_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "requests": raw["requests"],
        "errors": raw["errors_status"] + raw["errors_other"],
    }


def with_worker_cpu(masters: list[int], run) -> dict:
    """`run()`'s figures plus the servers' worker CPU per request (ms): what one request
    costs the server, less sensitive than req/s to other load on the machine."""
    before = server_cpu_seconds(*masters)
    figures = run()
    spent = server_cpu_seconds(*masters) - before
    figures["worker_cpu_ms"] = spent * 1000 / figures["requests"] if figures["requests"] else 0.0
    return figures


def in_process(env: dict, rounds: int = 5, number: int = 300) -> dict:
    """Per-request CPU time through the Flask test client (a fresh request context each
    time, process CPU time so other load on the machine counts less): the lesson page, the
    cheapest logged-in page, /healthz and the hello-world app; best of `rounds`, interleaved.
    Also the SQL statements one lesson request runs. Without Accept-Encoding (no
    compression) and with the browser's `gzip, deflate, br, zstd`."""
    import time

    from sqlalchemy import event

    os.environ.update({k: v for k, v in env.items() if k.startswith("SV_")})
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    from hello_app import app as hello

    from sv_platform import create_app
    from sv_platform.extensions import db

    app = create_app()
    client = app.test_client()
    page = client.get("/ingresar").get_data(as_text=True)
    client.post(
        "/ingresar",
        data={"identifier": DEMO_EMAIL, "password": DEMO_PASSWORD, "csrf_token": csrf(page)},
    )
    course = client.get(f"/cursos/{COURSE}").get_data(as_text=True)
    client.post(f"/inscripciones/{COURSE}", data={"csrf_token": csrf(course)})
    lesson = f"/cursos/{COURSE}/{LESSON}"
    assert "Marcar como completada" in client.get(lesson).get_data(as_text=True)
    browser = {"Accept-Encoding": "gzip, deflate, br, zstd"}
    targets = {
        "lesson": (client, lesson, {}),
        "lesson_compressed": (client, lesson, browser),
        "privacidad": (client, "/privacidad", {}),
        "healthz": (client, "/healthz", {}),
        "hello": (hello.test_client(), "/", {}),
    }
    best = {name: float("inf") for name in targets}
    for _ in range(rounds):
        for name, (c, path, headers) in targets.items():
            t0 = time.process_time()
            for _ in range(number):
                c.get(path, headers=headers)
            best[name] = min(best[name], (time.process_time() - t0) / number)
    statements = []
    with app.app_context():
        engine = db.engine

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement.split()[0].upper())

    event.listen(engine, "before_cursor_execute", record)
    client.get(lesson)
    event.remove(engine, "before_cursor_execute", record)
    result = {f"{name}_ms": round(value * 1000, 3) for name, value in best.items()}
    result["lesson_queries"] = sum(1 for x in statements if x == "SELECT")
    result["lesson_to_hello_cpu"] = round(best["lesson"] / best["hello"], 2)
    return result


def csrf(html: str) -> str:
    import re

    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--tool", choices=["auto", "wrk", "python"], default="auto")
    add_production_args(parser)
    args = parser.parse_args()
    tool = args.tool if args.tool != "auto" else ("wrk" if shutil.which("wrk") else "python")

    tmp = Path(tempfile.mkdtemp(prefix="sv-bench-lesson-"))
    database = BenchDatabase(args, tmp)
    env = {
        **os.environ,
        "FLASK_APP": "wsgi",
        **production_env(args),
        "SV_DATABASE_URL": database.url,
        "SV_SECRET_KEY": "bench-secret-key-0123456789-0123456789",
        "SV_UPLOAD_DIR": str(tmp / "uploads"),
        "SV_LOGIN_LIMIT_PER_IP": "100000 per minute",
    }
    for command in (
        ["db", "upgrade"],
        ["sv", "content", "load"],
        ["sv", "demo"],
        ["sv", "window", "create", "--offering", COURSE, "--capacity", "100"],
    ):
        subprocess.run(
            [str(BIN / "flask"), *command], cwd=ROOT, env=env, check=True, capture_output=True
        )

    def measure(url, cookie):
        urls = url if isinstance(url, list) else [url]
        if tool != "wrk":
            return steady_load(urls, args.seconds, args.connections, cookie)
        share = max(1, args.connections // len(urls))

        def one(index):
            folder = tmp / f"wrk-{index}"
            folder.mkdir(exist_ok=True)
            return run_wrk(urls[index], cookie, args.seconds, share, folder)

        with ThreadPoolExecutor(max_workers=len(urls)) as pool:
            parts = list(pool.map(one, range(len(urls))))
        combined = {k: sum(p[k] for p in parts) for k in ("rps", "requests", "errors")}
        combined.update({k: max(p[k] for p in parts) for k in ("p50_ms", "p95_ms", "p99_ms")})
        return combined

    inproc = in_process(env)
    print(f"in-process: {inproc}", file=sys.stderr)
    servers = start_servers(env, args.servers, threads=THREADS, log_dir=tmp)
    bases = [base for _proc, base in servers]
    try:
        session = login_and_enrol(bases[0])
        cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
        urls = [f"{base}/cursos/{COURSE}/{LESSON}" for base in bases]
        measure(urls, cookie) if args.seconds > 3 else None  # warm-up (caches, connections)
        masters = [proc.pid for proc, _base in servers]
        lesson = with_worker_cpu(masters, lambda: measure(urls, cookie))
        # Context: the app's cheapest logged-in page (session, user, nav, no course work).
        floor = measure([f"{base}/privacidad" for base in bases], cookie)
    finally:
        for proc, _base in servers:
            stop(proc)
        database.close()
    hello_server, hello_base = start_gunicorn(
        env, threads=THREADS, log=tmp / "hello.log", app="hello_app:app", cwd=ROOT / "bench"
    )
    try:
        hello = with_worker_cpu([hello_server.pid], lambda: measure(hello_base + "/", None))
    finally:
        stop(hello_server)

    ratio = lesson["rps"] / hello["rps"] if hello["rps"] else 0.0
    result = {
        "benchmark": "lesson_page",
        "tool": tool,
        "seconds": args.seconds,
        "connections": args.connections,
        "server": f"gunicorn --worker-class gthread -w 1 --threads {THREADS}",
        "setup": setup_label(args, database),
        "lesson_url": f"/cursos/{COURSE}/{LESSON}",
        "lesson_rps": round(lesson["rps"], 1),
        "lesson_p50_ms": round(lesson["p50_ms"], 2),
        "lesson_p95_ms": round(lesson["p95_ms"], 2),
        "lesson_p99_ms": round(lesson["p99_ms"], 2),
        "lesson_errors": lesson["errors"],
        "lesson_worker_cpu_ms": round(lesson["worker_cpu_ms"], 3),
        "hello_rps": round(hello["rps"], 1),
        "hello_p50_ms": round(hello["p50_ms"], 2),
        "hello_p95_ms": round(hello["p95_ms"], 2),
        "hello_p99_ms": round(hello["p99_ms"], 2),
        "hello_errors": hello["errors"],
        "hello_worker_cpu_ms": round(hello["worker_cpu_ms"], 3),
        # hello-world's worker CPU per request over the lesson's: the req/s ratio the two
        # would have if the server's CPU were all they waited for.
        "cpu_ratio": round(hello["worker_cpu_ms"] / lesson["worker_cpu_ms"], 3)
        if lesson["worker_cpu_ms"]
        else 0.0,
        "app_floor_url": "/privacidad",
        "app_floor_rps": round(floor["rps"], 1),
        "app_floor_p50_ms": round(floor["p50_ms"], 2),
        "lesson_to_app_floor_ratio": round(lesson["rps"] / floor["rps"], 3)
        if floor["rps"]
        else 0.0,
        "ratio": round(ratio, 3),
        "target_ratio": 0.25,
        "meets_target": ratio >= 0.25,
        "in_process": inproc,
        "in_process_target_lesson_ms": 1.2,
    }
    shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result))
    return 0 if result["lesson_errors"] == 0 and result["hello_errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
