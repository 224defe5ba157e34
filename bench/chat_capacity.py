"""Chat capacity: how many sockets one server process holds, and how fast it delivers.

Starts one server process on a throwaway migrated SQLite database — `gunicorn -c
gunicorn.conf.py` when that file exists at the repository root (the command `make run` and
production use), otherwise gunicorn gthread with `--threads` — creates K consultas (each
with its entrepreneur and its advisor, taken) through the real services, logs every person
in over HTTP, and connects the 2K sockets from ONE asyncio process (python-socketio's
AsyncClient; no Origin header, so the WebSocket handshake is accepted; the transport each
client ends on is counted). Then, bounded in time:

1. hold: every socket joins its consulta (ack counted) and stays connected;
2. steady: each socket sends one message every `--interval` seconds (5 s: a realistic
   chat) for `--seconds`; send→receive latency measured at the other side of the room;
3. burst: every socket sends `--burst` messages back to back (waiting for each ack), the
   most the server can store and deliver per second.

Reports per phase: delivered/sent (must be 100 %), duplicates (must be 0), stored rows,
messages/s, latency percentiles, the load generator's CPU (user+sys over wall time: 1.0 =
one core busy), the server's CPU the same way and its resident memory (RSS of master +
worker). Loopback only.
Prints one JSON object on the last line.

    .venv/bin/python bench/chat_capacity.py [--consultas 250] [--threads 600]
        [--database-url postgresql+psycopg://postgres@127.0.0.1/postgres]
        [--redis redis://127.0.0.1:6379/11]

With --redis the server's rooms go through Redis (the message queue production uses), so
every broadcast makes the round trip even with one process.
"""

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import socketio
from benchlib import (
    BIN,
    ROOT,
    BenchDatabase,
    add_production_args,
    free_port,
    in_process_app,
    logged_in_test_client,
    ms,
    percentile,
    production_env,
    server_cpu_seconds,
    server_rss_mb,
    setup_label,
    stop,
)
from chat_fanout import PASSWORD, create_data, log_in_pairs
from requests.utils import default_user_agent

USER_AGENT = default_user_agent()


def start_server(
    env: dict, threads: int, log: Path, *, echo: bool = False
) -> tuple[subprocess.Popen, str, str]:
    port = free_port()
    config = ROOT / "gunicorn.conf.py"
    if config.exists():
        command = [str(BIN / "gunicorn"), "-c", str(config), "-b", f"127.0.0.1:{port}"]
        label = "gunicorn -c gunicorn.conf.py"
    else:
        command = [
            str(BIN / "gunicorn"),
            "--worker-class",
            "gthread",
            "-w",
            "1",
            "--threads",
            str(threads),
            "--no-control-socket",
            "-b",
            f"127.0.0.1:{port}",
        ]
        label = f"gunicorn --worker-class gthread -w 1 --threads {threads}"
    app, cwd = ("chat_echo_app:app", ROOT / "bench") if echo else ("wsgi:app", ROOT)
    if echo:
        label += ", bench/chat_echo_app.py"
    proc = subprocess.Popen(
        [*command, app], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=open(log, "w")
    )  # noqa: SIM115 - closed with the process
    base = f"http://127.0.0.1:{port}"
    import requests

    for _ in range(600):
        try:
            requests.get(base + "/healthz", timeout=5)
            return proc, base, label
        except requests.RequestException:
            time.sleep(0.05)
    proc.terminate()
    raise SystemExit(f"server did not start: {log.read_text()}")


class Socket:
    """One person's socket in one consulta."""

    def __init__(self, consultation_id: int, cookie: str, token: str, book: dict):
        self.consultation_id, self.cookie, self.token, self.book = (
            consultation_id,
            cookie,
            token,
            book,
        )
        # Offer WebSocket compression (permessage-deflate) as every browser does: a server
        # that accepts it pays for it in memory and CPU on each socket.
        self.client = socketio.AsyncClient(
            reconnection=False, websocket_extra_options={"compress": 15}
        )
        self.client.on("message", self.on_message, namespace="/chat")
        self.received: dict[int, int] = {}
        self.joined = False

    async def on_message(self, payload):
        now = time.perf_counter()
        self.received[payload["id"]] = self.received.get(payload["id"], 0) + 1
        started = self.book["sent_at"].get(payload["client_msg_id"])
        if started is not None and payload["client_msg_id"] not in self.book["mine"].get(
            id(self), ()
        ):
            self.book["latency"].append(now - started)

    async def connect(self, base: str):
        await self.client.connect(
            base,
            namespaces=["/chat"],
            transports=["websocket"],
            # the browser that logged in: the same User-Agent as the login (requests'), or
            # Flask-Login's session protection re-signs the session at every event
            headers={"Cookie": self.cookie, "User-Agent": USER_AGENT},
            auth={"csrf_token": self.token},
            wait_timeout=60,
        )
        ack = await self.client.call(
            "join", {"consultation_id": self.consultation_id}, namespace="/chat", timeout=60
        )
        self.joined = bool(ack and ack.get("ok"))

    async def send(self, client_msg_id: str) -> bool:
        self.book["sent_at"][client_msg_id] = time.perf_counter()
        self.book["mine"].setdefault(id(self), set()).add(client_msg_id)
        try:
            ack = await self.client.call(
                "send",
                {
                    "consultation_id": self.consultation_id,
                    "body": f"Mensaje de prueba {client_msg_id}",
                    "client_msg_id": client_msg_id,
                },
                namespace="/chat",
                timeout=60,
            )
        except (socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError):
            return False  # no ack in time, or the socket was dropped: counted as not sent
        return bool(ack and ack.get("ok"))


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run(sockets: list[Socket], base: str, args, server, database) -> dict:
    book = sockets[0].book
    results = {}

    t0, c0 = time.perf_counter(), cpu_seconds()
    for start in range(0, len(sockets), 50):  # connect in waves of 50
        await asyncio.gather(*(s.connect(base) for s in sockets[start : start + 50]))
    transports, compressed = {}, 0
    for s in sockets:
        name = s.client.transport() if s.client.connected else "disconnected"
        transports[name] = transports.get(name, 0) + 1
        ws = getattr(s.client.eio, "ws", None)
        compressed += bool(ws is not None and ws.compress)
    results["hold"] = {
        "sockets": len(sockets),
        "joined": sum(s.joined for s in sockets),
        "transports": transports,
        "compressed": compressed,  # sockets on which the server accepted permessage-deflate
        "connect_seconds": round(time.perf_counter() - t0, 1),
        "client_cpu": round((cpu_seconds() - c0) / (time.perf_counter() - t0), 2),
        "server_rss_mb": server_rss_mb(server.pid),
    }

    async def phase(name: str, senders):
        book["latency"].clear()
        before = {id(s): dict(s.received) for s in sockets}
        t0, c0, s0 = time.perf_counter(), cpu_seconds(), server_cpu_seconds(server.pid)
        outcomes = await asyncio.gather(*senders)
        sent_ok = sum(sum(o) for o in outcomes)
        sent = sum(len(o) for o in outcomes)
        wall_send = time.perf_counter() - t0
        deadline = time.perf_counter() + args.deadline
        while time.perf_counter() < deadline and len(book["latency"]) < sent_ok:
            await asyncio.sleep(0.05)  # every acked message must reach the other socket
        wall = time.perf_counter() - t0
        new = [
            (s, {m: n - before[id(s)].get(m, 0) for m, n in s.received.items()}) for s in sockets
        ]
        deliveries = sum(1 for _, got in new for n in got.values() if n > 0)
        duplicates = sum(n - 1 for _, got in new for n in got.values() if n > 1)
        latency = list(book["latency"])
        results[name] = {
            "sent": sent,
            "acked": sent_ok,
            "delivered_to_peer": len(latency),
            "delivered_pct": round(100 * len(latency) / sent_ok, 2) if sent_ok else 0.0,
            "deliveries_incl_sender": deliveries,
            "duplicates": duplicates,
            "messages_per_s": round(sent_ok / wall_send, 1) if wall_send else 0.0,
            "p50_ms": ms(percentile(latency, 50)),
            "p95_ms": ms(percentile(latency, 95)),
            "p99_ms": ms(percentile(latency, 99)),
            "max_ms": ms(max(latency) if latency else None),
            "seconds": round(wall, 1),
            "client_cpu": round((cpu_seconds() - c0) / wall, 2),
            "server_cpu": round((server_cpu_seconds(server.pid) - s0) / wall, 2),
            "server_rss_mb": server_rss_mb(server.pid),
            "still_connected": sum(s.client.connected for s in sockets),
        }
        print(f"{name}: {results[name]}", file=sys.stderr, flush=True)

    async def steady(index: int, s: Socket):
        await asyncio.sleep(args.interval * index / len(sockets))  # spread over the interval
        outcomes, stop_at = [], time.perf_counter() + args.seconds
        n = 0
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            outcomes.append(await s.send(f"s{index}-{n}"))
            n += 1
            await asyncio.sleep(max(0.0, args.interval - (time.perf_counter() - started)))
        return outcomes

    await phase("steady", [steady(i, s) for i, s in enumerate(sockets)])

    async def burst(index: int, s: Socket):
        return [await s.send(f"b{index}-{n}") for n in range(args.burst)]

    await phase("burst", [burst(i, s) for i, s in enumerate(sockets)])
    results["stored_messages"] = (
        None if args.echo else database.scalar("SELECT count(*) FROM message")
    )
    await asyncio.gather(*(s.client.disconnect() for s in sockets if s.client.connected))
    return results


def in_process(env: dict, rows: list, sends: int) -> dict:
    """No server: the consultas' entrepreneurs log in through the Flask test client and
    send through Flask-SocketIO's test client (the same handler, inline, in one thread):
    process CPU time per send, best of 5 rounds of `sends` spread over the consultas, and
    the SQL statements of one send."""
    from sqlalchemy import event

    app, engine = in_process_app(env)
    from sv_platform.extensions import socketio as server

    app.config["CHAT_RATE_LIMIT"] = "100000 per minute"  # one person sends hundreds here
    people = []
    for row in rows:
        client, token = logged_in_test_client(app, row[1], PASSWORD, "/perfil")
        sock = server.test_client(
            app, namespace="/chat", flask_test_client=client, auth={"csrf_token": token}
        )
        ack = sock.emit("join", {"consultation_id": int(row[0])}, namespace="/chat", callback=True)
        assert ack["ok"], ack
        people.append((int(row[0]), sock))
    statements = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(" ".join(statement.split()))

    def send(n: int, prefix: str) -> None:
        consultation_id, sock = people[n % len(people)]
        data = {
            "consultation_id": consultation_id,
            "body": f"Mensaje {n}",
            "client_msg_id": f"{prefix}{n}",
        }
        ack = sock.emit("send", data, namespace="/chat", callback=True)
        assert ack["ok"], ack

    for n in range(len(people)):  # warm: every consulta has a message, every statement built
        send(n, "warm-")
    event.listen(engine, "before_cursor_execute", record)
    send(0, "counted-")
    event.remove(engine, "before_cursor_execute", record)
    rounds = []
    for r in range(5):
        t0 = time.process_time()
        for n in range(sends):
            send(n, f"r{r}-")
        rounds.append((time.process_time() - t0) / sends)
    return {
        "cpu_ms_per_send": round(min(rounds) * 1000, 3),
        "cpu_ms_per_send_rounds": [round(x * 1000, 3) for x in rounds],
        "statements_per_send": len(statements),
        "statements": [s[:90] for s in statements],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--consultas", type=int, default=250, help="2 sockets each")
    parser.add_argument("--threads", type=int, default=600, help="without gunicorn.conf.py")
    parser.add_argument("--interval", type=float, default=5.0, help="steady: seconds/message")
    parser.add_argument("--seconds", type=float, default=30.0, help="steady phase length")
    parser.add_argument("--burst", type=int, default=5, help="burst: messages per socket")
    parser.add_argument("--deadline", type=float, default=60.0)
    parser.add_argument(
        "--echo",
        action="store_true",
        help="the floor: bench/chat_echo_app.py (the same events, nothing stored) instead",
    )
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="no server: CPU time and statements per send through the Socket.IO test client",
    )
    add_production_args(parser)
    args = parser.parse_args()
    if args.servers != 1:
        raise SystemExit("this benchmark measures one server process: --servers 1")

    tmp = Path(tempfile.mkdtemp(prefix="sv-chat-capacity-"))
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
        [str(BIN / "flask"), "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True
    )
    rows = [] if args.echo else create_data(env, args.consultas)
    if args.in_process:
        try:
            result = {"benchmark": "chat_send_in_process", "setup": setup_label(args, database)}
            result |= {"consultas": len(rows), **in_process(env, rows, 300)}
        finally:
            database.close()
        print(json.dumps(result))
        return 0
    server, base, label = start_server(env, args.threads, tmp / "server.log", echo=args.echo)
    try:
        idle_rss = server_rss_mb(server.pid)
        if args.echo:  # nobody logs in: the echo app checks nothing
            logins = [(i, ("", ""), ("", "")) for i in range(1, args.consultas + 1)]
        else:
            logins = log_in_pairs(rows, base, base, workers=8)
        book = {"sent_at": {}, "latency": [], "mine": {}}
        sockets = [
            Socket(cid, *who, book) for cid, owner, advisor in logins for who in (owner, advisor)
        ]
        results = asyncio.run(run(sockets, base, args, server, database))
    finally:
        stop(server)
        database.close()
    result = {
        "benchmark": "chat_capacity",
        "server": label,
        "setup": setup_label(args, database),
        "load_generator": "one asyncio process, python-socketio AsyncClient",
        "server_rss_idle_mb": idle_rss,
        **results,
        "targets": {"sockets": 500, "messages_per_s": 500, "steady_p99_ms": 100},
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
