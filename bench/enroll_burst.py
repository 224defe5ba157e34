"""Enrolment burst: N clients hit the real HTTP enrol endpoint at once for C cupos.

Starts the production server command (gunicorn, one worker, threads) on a throwaway
SQLite database (or, with --database-url, a throwaway PostgreSQL database; with --servers 2
--redis URL, two servers sharing it, the clients split between them), registers N
entrepreneurs, logs each one in, then releases all N `POST /inscripciones/<slug>` requests
together. Reports seats given (must equal C),
waitlisted, errors, throughput and latency percentiles, and the same server's throughput
on its smallest route (`/healthz`) as the baseline. Then the floor: the same server command
serving bench/hello_app.py, hit by the same N POSTs released together (`floor_*`: what
gunicorn, new connections and a Flask redirect cost before any of the platform's work), and
the platform's own floor: the same people POST at once to bench/platform_floor_app.py, the
real app with one logged-in view that only flashes and redirects (`platform_floor_*`: what
every POST of the platform costs before its own work; `--no-floor` skips both). Prints one
JSON object last.

The burst is sent by one asyncio process (aiohttp, one connection per client, all opened
when the burst is released) so that the load generator takes little of the CPU the server
needs; its CPU use during the burst is reported (`client_cpu_cores`). `--client threads`
sends it from N Python threads instead (the generator used before).

    .venv/bin/python bench/enroll_burst.py [--clients 500] [--cupos 100] [--client asyncio]
        [--database-url postgresql+psycopg://postgres@127.0.0.1/postgres]
        [--servers 2 --redis redis://127.0.0.1:6379/14] [--in-process]

`--in-process` starts no server: each person POSTs once through the Flask test client and
the process CPU time per POST (seats and waitlisted apart) and the SQL statements of each
kind are reported — the server's own cost, which a busy machine disturbs less.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from benchlib import (
    BIN,
    ROOT,
    BenchDatabase,
    add_production_args,
    in_process_app,
    logged_in_test_client,
    login,
    ms,
    percentile,
    production_env,
    server_cpu_seconds,
    setup_label,
    start_gunicorn,
    start_servers,
    steady_load,
    stop,
)


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


def login_person(base, i):
    return login(base, f"bench{i}@ejemplo.cl", "clave-bench-segura", then="/mis-inscripciones")


def burst_asyncio(targets: list[tuple[str, str, str | dict]]) -> dict:
    """POST every (url, cookie header, CSRF token or whole form) at once from one event
    loop; returns statuses, latencies, errors, elapsed seconds and this process's CPU
    seconds."""
    import aiohttp

    user_agent = requests.utils.default_user_agent()  # the browser that logged in

    async def run():
        connector = aiohttp.TCPConnector(limit=0, force_close=True)
        timeout = aiohttp.ClientTimeout(total=120)
        async with aiohttp.ClientSession(
            connector=connector, timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()
        ) as http:
            go = asyncio.Event()

            async def one(url, cookie, token):
                await go.wait()
                t0 = time.perf_counter()
                try:
                    async with http.post(
                        url,
                        data=token if isinstance(token, dict) else {"csrf_token": token},
                        headers={"Cookie": cookie, "User-Agent": user_agent},
                        allow_redirects=False,
                    ) as response:
                        await response.read()
                        return response.status, time.perf_counter() - t0, None
                except (TimeoutError, aiohttp.ClientError) as exc:
                    return None, time.perf_counter() - t0, repr(exc)

            tasks = [asyncio.create_task(one(*target)) for target in targets]
            await asyncio.sleep(0.2)  # every task is waiting for the release
            cpu0, t0 = time.process_time(), time.perf_counter()
            go.set()
            results = await asyncio.gather(*tasks)
            return results, time.perf_counter() - t0, time.process_time() - cpu0

    results, elapsed, cpu = asyncio.run(run())
    return {
        "statuses": [r[0] for r in results],
        "latencies": [r[1] for r in results],
        "errors": [r[2] for r in results if r[2]],
        "elapsed": elapsed,
        "cpu": cpu,
    }


def floor_burst(env: dict, tmp: Path, app: str, posts: list, threads: int, count: int) -> dict:
    """The same burst against a bench app (`app`, a module of bench/; one process per
    server, as many servers): `posts` is [(path, cookie header, CSRF token)], spread over
    the servers. Returns errors, burst seconds, server CPU per POST and latency percentiles."""
    servers = [
        start_gunicorn(
            env,
            threads=threads,
            log=tmp / f"{app.split(':')[0]}-{i}.log",
            app=app,
            cwd=ROOT / "bench",
        )
        for i in range(count)
    ]
    try:
        targets = [
            (f"{servers[i % count][1]}{path}", cookie, token)
            for i, (path, cookie, token) in enumerate(posts)
        ]
        cpu = server_cpu_seconds(*(proc.pid for proc, _base in servers))
        fired = burst_asyncio(targets)
        cpu = server_cpu_seconds(*(proc.pid for proc, _base in servers)) - cpu
    finally:
        for proc, _base in servers:
            stop(proc)
    latencies = [x for x in fired["latencies"] if x is not None]
    return {
        "errors": len(fired["errors"]) + sum(1 for s in fired["statuses"] if s != 302),
        "burst_seconds": round(fired["elapsed"], 3),
        "server_cpu_ms_per_post": round(cpu * 1000 / len(posts), 2),
        "p50_ms": ms(percentile(latencies, 50)),
        "p99_ms": ms(percentile(latencies, 99)),
    }


def floors(env: dict, tmp: Path, targets: list, threads: int, count: int) -> dict:
    """`floor_*`: bench/hello_app.py's POST, nothing of the platform in it;
    `platform_floor_*`: the same people's POST to bench/platform_floor_app.py, the
    platform's logged-in POST that only flashes and redirects."""
    hello = floor_burst(env, tmp, "hello_app:app", [("/", "", "")] * len(targets), threads, count)
    nothing = [("/bench/nada", cookie, token) for _url, cookie, token in targets]
    platform = floor_burst(env, tmp, "platform_floor_app:app", nothing, threads, count)
    return {f"floor_{k}": v for k, v in hello.items()} | {
        f"platform_floor_{k}": v for k, v in platform.items()
    }


def burst_threads(targets, sessions) -> dict:
    """The same burst from one Python thread per client (released by a barrier)."""
    n = len(targets)
    barrier = threading.Barrier(n)
    latencies, statuses, errors = [None] * n, [None] * n, []

    def fire(i):
        session, token = sessions[i]
        barrier.wait()
        t0 = time.perf_counter()
        try:
            response = session.post(
                targets[i][0], data={"csrf_token": token}, allow_redirects=False, timeout=120
            )
            statuses[i] = response.status_code
        except requests.RequestException as exc:
            errors.append(repr(exc))
        latencies[i] = time.perf_counter() - t0

    threads = [threading.Thread(target=fire, args=(i,)) for i in range(n)]
    cpu0, t0 = time.process_time(), time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {
        "statuses": statuses,
        "latencies": latencies,
        "errors": errors,
        "elapsed": time.perf_counter() - t0,
        "cpu": time.process_time() - cpu0,
    }


def in_process(env: dict, clients: int, cupos: int) -> dict:
    """Every person POSTs the enrolment once through the Flask test client (a fresh request
    context each, as under the server): process CPU time per POST, split into those that
    took a seat and those waitlisted, and the SQL statements of one of each."""
    from sqlalchemy import event

    app, engine = in_process_app(env)
    password, page = "clave-bench-segura", "/mis-inscripciones"
    people = [
        logged_in_test_client(app, f"bench{i}@ejemplo.cl", password, page) for i in range(clients)
    ]
    statements = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    cpu, kinds = {"seat": [], "waitlisted": []}, {}
    for n, (client, token) in enumerate(people):
        statements.clear()
        event.listen(engine, "before_cursor_execute", record)
        t0 = time.process_time()
        response = client.post("/inscripciones/asesoria-legal", data={"csrf_token": token})
        spent = time.process_time() - t0
        event.remove(engine, "before_cursor_execute", record)
        assert response.status_code == 302, response.status_code
        kind = "seat" if n < cupos else "waitlisted"  # one at a time: the first take seats
        cpu[kind].append(spent)
        kinds.setdefault(kind, len(statements))
    every = cpu["seat"] + cpu["waitlisted"]
    return {
        "cpu_ms_per_enrol": round(sum(every) / len(every) * 1000, 3),
        "cpu_ms_seat": round(sum(cpu["seat"]) / max(len(cpu["seat"]), 1) * 1000, 3),
        "cpu_ms_waitlisted": round(
            sum(cpu["waitlisted"]) / max(len(cpu["waitlisted"]), 1) * 1000, 3
        ),
        "statements_seat": kinds.get("seat"),
        "statements_waitlisted": kinds.get("waitlisted"),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--cupos", type=int, default=100)
    parser.add_argument("--threads", type=int, default=100, help="gunicorn threads")
    parser.add_argument("--baseline-seconds", type=float, default=5.0)
    parser.add_argument("--client", choices=["asyncio", "threads"], default="asyncio")
    parser.add_argument("--no-floor", action="store_true", help="skip the hello-world burst")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="no server: CPU time and statements per POST through the Flask test client",
    )
    add_production_args(parser)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="sv-bench-"))
    database = BenchDatabase(args, tmp)
    env = {
        **os.environ,
        **production_env(args),
        "FLASK_APP": "wsgi",
        "SV_DATABASE_URL": database.url,
        "SV_SECRET_KEY": "bench-secret-key-0123456789-0123456789",
        "SV_ARGON2_TIME_COST": "1",
        "SV_ARGON2_MEMORY_COST": "1024",
        "SV_LOGIN_LIMIT_PER_IP": "100000 per minute",
    }
    subprocess.run(
        [str(BIN / "flask"), "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True
    )
    subprocess.run(
        [
            str(BIN / "flask"),
            "sv",
            "window",
            "create",
            "--offering",
            "asesoria-legal",
            "--capacity",
            str(args.cupos),
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    create_people(env, args.clients)
    if args.in_process:
        try:
            result = {"benchmark": "enroll_burst_in_process", "clients": args.clients}
            result |= {"cupos": args.cupos, **in_process(env, args.clients, args.cupos)}
        finally:
            database.close()
        print(json.dumps(result))
        return 0
    servers = start_servers(env, args.servers, threads=args.threads, log_dir=tmp)
    bases = [base for _proc, base in servers]
    try:
        with ThreadPoolExecutor(max_workers=32) as pool:
            sessions = list(
                pool.map(lambda i: login_person(bases[i % len(bases)], i), range(args.clients))
            )
        hello = steady_load([f"{base}/healthz" for base in bases], args.baseline_seconds, 32)

        targets = [
            (
                f"{bases[i % len(bases)]}/inscripciones/asesoria-legal",
                "; ".join(f"{c.name}={c.value}" for c in sessions[i][0].cookies),
                sessions[i][1],
            )
            for i in range(args.clients)
        ]
        procs = [proc for proc, _base in servers]
        server_cpu = server_cpu_seconds(*(proc.pid for proc in procs))
        if args.client == "asyncio":
            fired = burst_asyncio(targets)
        else:
            fired = burst_threads(targets, sessions)
        server_cpu = server_cpu_seconds(*(proc.pid for proc in procs)) - server_cpu
        statuses, latencies, errors = fired["statuses"], fired["latencies"], fired["errors"]
        elapsed = fired["elapsed"]
    finally:
        for proc, _base in servers:
            stop(proc)

    try:
        counts = dict(database.rows("SELECT status, count(*) FROM enrollment GROUP BY status"))
        used = database.scalar("SELECT used FROM enrollment_window")
        with_floors = args.client == "asyncio" and not args.no_floor
        if with_floors:  # the platform's floor logs the same people in: the database is needed
            floor = floors(env, tmp, targets, args.threads, args.servers)
    finally:
        database.close()
    lat = [x for x in latencies if x is not None]
    burst_rps = args.clients / elapsed
    result = {
        "benchmark": "enroll_burst",
        "clients": args.clients,
        "cupos": args.cupos,
        "seats_given": counts.get("active", 0),
        "window_used": used,
        "waitlisted": counts.get("waitlisted", 0),
        "errors": len(errors) + sum(1 for s in statuses if s not in (302, None)),
        "burst_seconds": round(elapsed, 3),
        "client": args.client,
        "client_cpu_cores": round(fired["cpu"] / elapsed, 2),
        "enrol_rps": round(burst_rps, 1),
        # the servers' CPU during the burst (the release's 0.2 s wait included) per POST
        "server_cpu_ms_per_enrol": round(server_cpu * 1000 / args.clients, 2),
        "p50_ms": ms(percentile(lat, 50)),
        "p95_ms": ms(percentile(lat, 95)),
        "p99_ms": ms(percentile(lat, 99)),
        "baseline_healthz_rps": round(hello["rps"], 1),
        "baseline_p50_ms": hello["p50_ms"],
        "enrol_to_baseline_ratio": round(burst_rps / hello["rps"], 3),
        "setup": setup_label(args, database),
        "correct": counts.get("active", 0) == min(args.cupos, args.clients) == used,
    }
    if with_floors:
        result |= floor
        result["p99_to_floor_p99"] = round(result["p99_ms"] / result["floor_p99_ms"], 2)
    print(json.dumps(result))
    return 0 if result["correct"] and result["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
