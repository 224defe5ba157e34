"""Browser tests: a real server (gunicorn, production command) and Debian's Chromium."""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

import pytest

CHROMIUM = os.environ.get("SV_CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
# `make screenshots` sets SV_SCREENSHOTS=docs/screenshots to refresh the committed ones;
# otherwise they go to an ignored folder so a test run leaves the work tree clean.
SCREENSHOTS = ROOT / os.environ.get("SV_SCREENSHOTS", "test-results/screenshots")

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory, template_db):
    """gunicorn serving the app on a fresh copy of the migrated database, content loaded."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    tmp = tmp_path_factory.mktemp("live")
    db_file = tmp / "live.sqlite3"
    shutil.copyfile(template_db, db_file)
    port = _free_port()
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "FLASK_APP": "wsgi",
        "SV_DATABASE_URL": f"sqlite:///{db_file}",
        "SV_SECRET_KEY": "e2e-secret-key-for-tests-only-0123456789",
        "SV_UPLOAD_DIR": str(tmp / "uploads"),
        "SV_ARGON2_TIME_COST": "1",
        "SV_ARGON2_MEMORY_COST": "256",
    }
    subprocess.run(
        [str(bin_dir / "flask"), "sv", "content", "load"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [str(bin_dir / "flask"), "sv", "demo"], cwd=ROOT, env=env, check=True, capture_output=True
    )
    log = open(tmp / "server.log", "w")  # noqa: SIM115 - closed at teardown
    proc = subprocess.Popen(
        [
            str(bin_dir / "gunicorn"),
            "--worker-class",
            "gthread",
            "-w",
            "1",
            "--threads",
            "20",
            "--bind",
            f"127.0.0.1:{port}",
            "--no-control-socket",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60  # a loaded machine starts slowly
    while time.monotonic() < deadline:
        try:
            with urlopen(f"{base}/healthz", timeout=1):  # noqa: S310 - loopback only
                break
        except (URLError, ConnectionError, OSError):
            time.sleep(0.1)
    else:
        _stop(proc, log)
        pytest.fail("server did not start: " + (tmp / "server.log").read_text())
    server = type("LiveServer", (), {"url": base, "db_url": env["SV_DATABASE_URL"], "env": env})()
    yield server
    _stop(proc, log)


def _stop(proc, log) -> None:
    """Stop the server; gunicorn waits for open connections, so kill it if it lingers."""
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
    log.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="es-CL", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def shot(page, name: str, width: int) -> None:
    """Save a full-page screenshot at `width` px into SCREENSHOTS, after checking
    that the page fits that width (no sideways scrolling on a phone)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": width, "height": 900})
    overflow = page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= width, f"{name} is {overflow}px wide at a {width}px viewport"
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)


def register(
    page,
    base: str,
    *,
    rut: str,
    name: str,
    email: str,
    phone: str,
    password: str,
    region: str,
    comuna: str,
    birth_date: str,
    education: str,
    sex: str = "Femenino",
) -> None:
    """Fill the real registration form by its labels and submit it (lands on home)."""
    page.goto(base + "/registro")
    page.get_by_label("RUT", exact=True).fill(rut)
    page.get_by_label("Nombre completo").fill(name)
    page.get_by_label("Correo electrónico").fill(email)
    page.get_by_label("Teléfono").fill(phone)
    page.get_by_label("Contraseña").fill(password)
    page.get_by_label("Región", exact=True).select_option(label=region)
    page.get_by_label("Comuna", exact=True).select_option(label=comuna)
    page.get_by_label("Sexo").select_option(label=sex)
    page.get_by_label("Fecha de nacimiento").fill(birth_date)
    page.get_by_label("Nivel educacional").select_option(label=education)
    page.get_by_label("Acepto el uso de mis datos personales").check()
    page.get_by_role("button", name="Crear mi cuenta").click()
    page.wait_for_url(base + "/")
