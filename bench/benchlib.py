"""What the server benchmarks share: paths, a gunicorn on a free port, a logged-in
session with its CSRF token, percentiles."""

import os
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
            # The production settings (access log included) for the app and the
            # hello-world baseline alike; the flags below override the thread count.
            "-c",
            str(ROOT / "gunicorn.conf.py"),
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
    """Ask the server to stop; kill it if it is still finishing requests after 30 s."""
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def server_pids(master_pid: int) -> list[int]:
    """A gunicorn master and its worker processes."""
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children")
    return [master_pid] + (
        [int(x) for x in children.read_text().split()] if children.exists() else []
    )


def server_cpu_seconds(*master_pids: int) -> float:
    """CPU time (user + system) so far of these gunicorn masters and their workers."""
    ticks = 0
    for master in master_pids:
        for pid in server_pids(master):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def server_rss_mb(master_pid: int) -> float:
    """Resident memory of a gunicorn master and its workers, in MB."""
    total = 0
    for pid in server_pids(master_pid):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return round(total / 1024, 1)


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


def in_process_app(env: dict):
    """The app in this process, configured by the SV_ settings of `env` (no server):
    returns (app, its engine)."""
    os.environ.update({k: v for k, v in env.items() if k.startswith("SV_")})
    sys.path.insert(0, str(ROOT))
    from sv_platform import create_app
    from sv_platform.extensions import db

    app = create_app()
    with app.app_context():
        return app, db.engine


def logged_in_test_client(app, identifier: str, password: str, token_page: str):
    """A Flask test client logged in through the real form, and the CSRF token of
    `token_page` in its session."""
    client = app.test_client()
    page = client.get("/ingresar").get_data(as_text=True)
    form = {"identifier": identifier, "password": password, "csrf_token": csrf_token(page)}
    response = client.post("/ingresar", data=form)
    assert response.status_code == 302, response.status_code
    return client, csrf_token(client.get(token_page).get_data(as_text=True))


def steady_load(url, seconds: float, connections: int, cookie: str | None = None) -> dict:
    """`connections` threads GET `url` back to back for `seconds` (a wrk stand-in); with a
    list of URLs (one per server) the threads are spread over them."""
    urls = url if isinstance(url, list) else [url]
    latencies, errors, lock = [], [0], threading.Lock()
    stop_at = time.perf_counter() + seconds

    def worker(url):
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

    threads = [
        threading.Thread(target=worker, args=(urls[i % len(urls)],)) for i in range(connections)
    ]
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


# --- the production setup: PostgreSQL, several server processes, Redis ------------------


def add_production_args(parser) -> None:
    """--database-url / --servers / --redis: the same benchmark on the production setup."""
    parser.add_argument(
        "--database-url",
        default=None,
        help="a PostgreSQL server to use instead of SQLite, e.g. "
        "postgresql+psycopg://postgres@127.0.0.1/postgres (a throwaway database is created "
        "on it and dropped at the end)",
    )
    parser.add_argument("--servers", type=int, default=1, help="server processes (ports)")
    parser.add_argument(
        "--redis",
        default=None,
        help="redis://… shared by the servers for chat rooms and limits (--servers > 1)",
    )


class BenchDatabase:
    """A throwaway migrated database: a SQLite file in `tmp`, or a PostgreSQL database
    created on the --database-url server (dropped by close())."""

    def __init__(self, args, tmp: Path):
        self.admin = None
        if args.database_url:
            from sqlalchemy import create_engine, text
            from sqlalchemy.engine import make_url

            base = make_url(args.database_url)
            self.name = f"sv_bench_{os.getpid()}"
            self.admin = create_engine(base, isolation_level="AUTOCOMMIT")
            with self.admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{self.name}"'))
                connection.execute(text(f'CREATE DATABASE "{self.name}"'))
            self.url = base.set(database=self.name).render_as_string(hide_password=False)
            self.label = "PostgreSQL"
        else:
            self.url = f"sqlite:///{tmp / 'bench.sqlite3'}"
            self.label = "SQLite"

    def scalar(self, sql: str):
        from sqlalchemy import create_engine, text

        engine = create_engine(self.url)
        try:
            with engine.connect() as connection:
                return connection.execute(text(sql)).scalar()
        finally:
            engine.dispose()

    def rows(self, sql: str) -> list:
        from sqlalchemy import create_engine, text

        engine = create_engine(self.url)
        try:
            with engine.connect() as connection:
                return [tuple(r) for r in connection.execute(text(sql))]
        finally:
            engine.dispose()

    def close(self) -> None:
        if self.admin is not None:
            from sqlalchemy import text

            with self.admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            self.admin.dispose()


def production_env(args) -> dict:
    """Settings that make several servers one deployment (Redis rooms and limits)."""
    if args.servers > 1 and not args.redis:
        raise SystemExit("--servers > 1 needs --redis")
    if not args.redis:
        return {}
    run = f"sv-bench-{os.getpid()}"
    return {
        "SV_SOCKETIO_MESSAGE_QUEUE": args.redis,
        "SV_SOCKETIO_CHANNEL": run,
        "SV_RATELIMIT_STORAGE_URI": args.redis,
        "SV_RATELIMIT_KEY_PREFIX": run,
    }


def setup_label(args, database: "BenchDatabase") -> str:
    servers = f"{args.servers} servers" if args.servers > 1 else "1 server"
    return f"{database.label}, {servers}" + (", Redis" if args.redis else "")


def start_servers(env: dict, count: int, *, threads: int, log_dir: Path):
    """`count` servers (the production command each) on their own ports."""
    return [
        start_gunicorn(env, threads=threads, log=log_dir / f"server-{i}.log") for i in range(count)
    ]
