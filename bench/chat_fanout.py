"""Chat fan-out: K consultas, an entrepreneur and an advisor connected to each (2K sockets).

Starts the production server command (gunicorn gthread, one worker, many threads) on a
throwaway migrated SQLite database, creates K entrepreneurs, K legal advisors and K
consultas through the real services (each consulta taken by its advisor), logs every
person in over HTTP (`requests`: session cookie + CSRF token), connects them with the
python-socketio client to /chat (cookie header + `auth={"csrf_token": …}`), joins, and
then every client sends M messages. Reports delivered/sent at the other side (must be
100 %), duplicates (must be 0), messages stored, and p50/p95/p99 send→receive latency.
Loopback only, bounded in time. Prints one JSON object last.

    .venv/bin/python bench/chat_fanout.py [--consultas 100] [--messages 10]
        [--database-url postgresql+psycopg://postgres@127.0.0.1/postgres]
        [--servers 2 --redis redis://127.0.0.1:6379/14]

With --servers 2 every entrepreneur is on the first server and every advisor on the
second, so each message crosses processes through Redis.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import socketio
from benchlib import (
    BIN,
    ROOT,
    BenchDatabase,
    add_production_args,
    login,
    ms,
    percentile,
    production_env,
    setup_label,
    start_servers,
    stop,
)

PASSWORD = "clave-bench-segura-2026"


def create_data(env, k):
    """K entrepreneurs, K advisors and K consultas (taken), all through the services."""
    script = f"""
import datetime
from stdnum.cl import rut
from sv_platform import create_app
from sv_platform.accounts import services as accounts
from sv_platform.advisory import lifecycle
from sv_platform.advisory import services as advisory
from sv_platform.enrollment import services as enrollment

def valid_rut(n):
    body = str(n)
    return f"{{body}}-{{rut.calc_check_digit(body)}}"

app = create_app()
with app.app_context():
    enrollment.create_window(offering_slug="asesoria-legal", capacity={k})
    for i in range({k}):
        owner = accounts.register_entrepreneur(
            rut=valid_rut(30000000 + i), name=f"Emprendedora Bench {{i}}",
            email=f"e{{i}}@bench.cl", phone="+56 9 6123 4567", password="{PASSWORD}",
            region_code="13", comuna_code="13101", sex="femenino",
            birth_date=datetime.date(1990, 1, 1), education_level="media", consent=True)
        advisor = accounts.create_staff(
            role="advisor", rut=valid_rut(40000000 + i), email=f"a{{i}}@bench.cl",
            name=f"Asesor Bench {{i}}", password="{PASSWORD}", specialty="legal")
        consultation = lifecycle.open_consultation(
            owner, area="legal", subject=f"Consulta de prueba {{i}}",
            description="Una consulta creada para medir el chat en tiempo real.")
        lifecycle.take(consultation.id, advisor)
        print(consultation.id, owner.email, advisor.email)
"""
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [line.split() for line in out.splitlines() if line.strip()]


def login_cookie(base, email):
    """A logged-in session as a Cookie header for the socket, plus its CSRF token."""
    session, token = login(base, email, PASSWORD)
    return "; ".join(f"{c.name}={c.value}" for c in session.cookies), token


def log_in_pairs(rows, owner_base, advisor_base, *, workers):
    """For each (consulta id, entrepreneur's email, advisor's email) of create_data:
    (consulta id, entrepreneur's login_cookie, advisor's login_cookie), `workers` at once."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(
            pool.map(
                lambda row: (
                    int(row[0]),
                    login_cookie(owner_base, row[1]),
                    login_cookie(advisor_base, row[2]),
                ),
                rows,
            )
        )


class Participant:
    """One socket: joins its consulta, records what it receives."""

    def __init__(self, base, consultation_id, cookie, token, sent_at, lock):
        self.consultation_id = consultation_id
        self.received: dict[int, int] = {}  # message id → times received
        self.latencies: list[float] = []
        self.sent_at, self.lock = sent_at, lock
        self.client = socketio.Client(reconnection=False)
        self.client.on("message", self.on_message, namespace="/chat")
        self.client.connect(
            base,
            namespaces=["/chat"],
            transports=["websocket"],
            headers={"Cookie": cookie},
            auth={"csrf_token": token},
            wait_timeout=30,
        )
        ack = self.client.call(
            "join", {"consultation_id": consultation_id}, namespace="/chat", timeout=30
        )
        assert ack and ack["ok"], ack

    def on_message(self, payload):
        now = time.perf_counter()
        with self.lock:
            self.received[payload["id"]] = self.received.get(payload["id"], 0) + 1
            started = self.sent_at.get(payload["client_msg_id"])
        if started is not None:
            self.latencies.append(now - started)

    def send_all(self, prefix, count, pause, errors):
        for n in range(count):
            client_msg_id = f"{prefix}-{n}"
            with self.lock:
                self.sent_at[client_msg_id] = time.perf_counter()
            try:
                ack = self.client.call(
                    "send",
                    {
                        "consultation_id": self.consultation_id,
                        "body": f"Mensaje **{n}** de {prefix}",
                        "client_msg_id": client_msg_id,
                    },
                    namespace="/chat",
                    timeout=30,
                )
                if not ack or not ack.get("ok"):
                    errors.append(ack)
            except socketio.exceptions.TimeoutError:
                errors.append("timeout")
            time.sleep(pause)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--consultas", type=int, default=100)
    parser.add_argument("--messages", type=int, default=10, help="messages per client")
    parser.add_argument("--pause", type=float, default=0.1, help="seconds between sends")
    parser.add_argument(
        "--deadline", type=float, default=120.0, help="seconds to wait for deliveries after sending"
    )
    add_production_args(parser)
    args = parser.parse_args()
    k, m = args.consultas, args.messages

    tmp = Path(tempfile.mkdtemp(prefix="sv-chat-bench-"))
    database = BenchDatabase(args, tmp)
    env = {
        **os.environ,
        **production_env(args),
        "FLASK_APP": "wsgi",
        "SV_DATABASE_URL": database.url,
        "SV_SECRET_KEY": "bench-secret-key-0123456789-0123456789",
        "SV_UPLOAD_DIR": str(tmp / "uploads"),
        "SV_ARGON2_TIME_COST": "1",
        "SV_ARGON2_MEMORY_COST": "1024",
        "SV_LOGIN_LIMIT_PER_IP": "100000 per minute",
    }
    subprocess.run(
        [str(BIN / "flask"), "db", "upgrade", "heads"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    t_setup = time.perf_counter()
    rows = create_data(env, k)
    threads_per_server = max(200, 2 * k + 40)
    servers = start_servers(env, args.servers, threads=threads_per_server, log_dir=tmp)
    # The entrepreneur on the first server, the advisor on the next one (the same one
    # when there is only one): with two servers every message crosses processes.
    owner_base, advisor_base = servers[0][1], servers[1 % len(servers)][1]
    errors = []
    sent_at, lock = {}, threading.Lock()
    try:
        logins = log_in_pairs(rows, owner_base, advisor_base, workers=16)
        with ThreadPoolExecutor(max_workers=16) as pool:
            pairs = list(
                pool.map(
                    lambda item: (
                        Participant(owner_base, item[0], *item[1], sent_at, lock),
                        Participant(advisor_base, item[0], *item[2], sent_at, lock),
                    ),
                    logins,
                )
            )
        setup_seconds = time.perf_counter() - t_setup
        threads = []
        for index, (owner, advisor) in enumerate(pairs):
            for side, participant in (("e", owner), ("a", advisor)):
                threads.append(
                    threading.Thread(
                        target=participant.send_all, args=(f"{side}{index}", m, args.pause, errors)
                    )
                )
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        send_seconds = time.perf_counter() - t0
        expected = k * m  # every participant should receive the other side's m messages
        deadline = time.perf_counter() + args.deadline
        while time.perf_counter() < deadline:
            with lock:
                got = sum(len(p.received) for pair in pairs for p in pair)
            if got >= 2 * expected:
                break
            time.sleep(0.1)
        for pair in pairs:
            for participant in pair:
                participant.client.disconnect()
    finally:
        for proc, _base in servers:
            stop(proc)

    try:
        stored = database.scalar("SELECT count(*) FROM message")
        stored_unique = database.scalar(
            "SELECT count(DISTINCT consultation_id || '/' || author_id || '/' || client_msg_id)"
            " FROM message"
        )
    finally:
        database.close()
    sent = 2 * k * m
    delivered = sum(len(p.received) for pair in pairs for p in pair)
    duplicates = sum(c - 1 for pair in pairs for p in pair for c in p.received.values()) + (
        stored - stored_unique
    )
    latencies = [x for pair in pairs for p in pair for x in p.latencies]
    result = {
        "benchmark": "chat_fanout",
        "consultas": k,
        "sockets": 2 * k,
        "messages_per_client": m,
        "sent": sent,
        "acks_failed": len(errors),
        "delivered": delivered,
        "delivered_pct": round(100 * delivered / sent, 2) if sent else 0,
        "duplicates": duplicates,
        "stored": stored,
        "p50_ms": ms(percentile(latencies, 50)),
        "p95_ms": ms(percentile(latencies, 95)),
        "p99_ms": ms(percentile(latencies, 99)),
        "max_ms": ms(max(latencies, default=None)),
        "send_seconds": round(send_seconds, 2),
        "messages_per_second": round(sent / send_seconds, 1),
        "setup_seconds": round(setup_seconds, 1),
        "server": f"gunicorn gthread -w 1 --threads {threads_per_server}",
        "setup": setup_label(args, database),
    }
    result["correct"] = delivered == sent == stored and duplicates == 0 and not errors
    print(json.dumps(result))
    return 0 if result["correct"] else 1


if __name__ == "__main__":
    sys.exit(main())
