"""Logins and enrolments together, as when a window opens: the production server command on
a throwaway SQLite database (or PostgreSQL with --database-url), with the production
password hashing cost (argon2id, time cost 2, 19 MiB).

`--enrollers` people log in first. Phase one, the baseline: they all POST an enrolment in
one offering at once, nobody logging in. Phase two: the same people POST an enrolment in a
second offering while `--logins` other people POST the login form, all released together
(one asyncio process, one connection each). Reports each phase's latencies, the logins'
latencies, the servers' CPU per request and the generator's CPU; a correct run has every
login answered 302 (logged in), every enrolment seated or waitlisted and 0 errors. Prints
one JSON object last.

    .venv/bin/python bench/login_burst.py [--logins 200] [--enrollers 100]
        [--database-url postgresql+psycopg://postgres@127.0.0.1/postgres]
"""

import argparse
import json
import os
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
    csrf_token,
    ms,
    percentile,
    production_env,
    server_cpu_seconds,
    setup_label,
    start_servers,
    stop,
)
from enroll_burst import burst_asyncio, create_people, login_person

OFFERINGS = ("asesoria-sustentabilidad", "asesoria-legal")


def login_form(base: str, i: int) -> tuple[str, str, dict]:
    """The login page's session cookie and a filled form with its CSRF token."""
    session = requests.Session()
    token = csrf_token(session.get(f"{base}/ingresar", timeout=30).text)
    cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
    form = {"identifier": f"bench{i}@ejemplo.cl", "password": "clave-bench-segura"}
    return f"{base}/ingresar", cookie, form | {"csrf_token": token}


def latencies(fired: dict, part: range) -> dict:
    values = [fired["latencies"][i] for i in part]
    return {"p50_ms": ms(percentile(values, 50)), "p99_ms": ms(percentile(values, 99))}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--logins", type=int, default=200)
    parser.add_argument("--enrollers", type=int, default=100)
    parser.add_argument("--threads", type=int, default=100, help="gunicorn threads")
    add_production_args(parser)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="sv-bench-"))
    database = BenchDatabase(args, tmp)
    env = {key: value for key, value in os.environ.items() if not key.startswith("SV_ARGON2_")}
    env |= {
        **production_env(args),
        "FLASK_APP": "wsgi",
        "SV_DATABASE_URL": database.url,
        "SV_SECRET_KEY": "bench-secret-key-0123456789-0123456789",
        "SV_LOGIN_LIMIT_PER_IP": "100000 per minute",
    }
    flask = [str(BIN / "flask")]
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    for slug in OFFERINGS:
        window = ["sv", "window", "create", "--offering", slug, "--capacity", "50"]
        subprocess.run([*flask, *window], cwd=ROOT, env=env, check=True, capture_output=True)
    people = args.enrollers + args.logins
    create_people(env, people)
    servers = start_servers(env, args.servers, threads=args.threads, log_dir=tmp)
    bases = [base for _proc, base in servers]
    pids = [proc.pid for proc, _base in servers]
    phases = {}
    try:
        with ThreadPoolExecutor(max_workers=16) as pool:
            enrollers = list(
                pool.map(lambda i: login_person(bases[i % len(bases)], i), range(args.enrollers))
            )
            forms = list(
                pool.map(
                    lambda i: login_form(bases[i % len(bases)], i),
                    range(args.enrollers, people),
                )
            )
        for phase, slug in zip(("alone", "with_logins"), OFFERINGS, strict=True):
            targets = [
                (
                    f"{bases[i % len(bases)]}/inscripciones/{slug}",
                    "; ".join(f"{c.name}={c.value}" for c in session.cookies),
                    token,
                )
                for i, (session, token) in enumerate(enrollers)
            ]
            if phase == "with_logins":
                targets += forms
            cpu = server_cpu_seconds(*pids)
            fired = burst_asyncio(targets)
            phases[phase] = fired | {"server_cpu": server_cpu_seconds(*pids) - cpu}
    finally:
        for proc, _base in servers:
            stop(proc)
    try:
        counts = dict(database.rows("SELECT status, count(*) FROM enrollment GROUP BY status"))
    finally:
        database.close()

    enrolments = range(args.enrollers)
    logins = range(args.enrollers, people)
    alone, mixed = phases["alone"], phases["with_logins"]
    bad = sum(1 for fired in (alone, mixed) for status in fired["statuses"] if status != 302) + sum(
        len(fired["errors"]) for fired in (alone, mixed)
    )
    enrol_alone, enrol_mixed = latencies(alone, enrolments), latencies(mixed, enrolments)
    result = {
        "benchmark": "login_burst",
        "setup": setup_label(args, database),
        "logins": args.logins,
        "enrollers": args.enrollers,
        "errors": bad,
        "enrolments_seated": counts.get("active", 0),
        "enrolments_waitlisted": counts.get("waitlisted", 0),
        "enrol_alone": enrol_alone,
        "enrol_alone_server_cpu_ms_per_post": round(alone["server_cpu"] * 1000 / args.enrollers, 2),
        "enrol_with_logins": enrol_mixed,
        "logins_with_enrolments": latencies(mixed, logins),
        "with_logins_seconds": round(mixed["elapsed"], 3),
        "with_logins_server_cpu_ms_per_request": round(
            mixed["server_cpu"] * 1000 / (args.enrollers + args.logins), 2
        ),
        "enrol_p99_with_logins_to_alone": round(enrol_mixed["p99_ms"] / enrol_alone["p99_ms"], 2),
        "client_cpu_cores": round(mixed["cpu"] / mixed["elapsed"], 2),
    }
    result["correct"] = bad == 0 and sum(counts.values()) == 2 * args.enrollers
    print(json.dumps(result))
    return 0 if result["correct"] else 1


if __name__ == "__main__":
    sys.exit(main())
