"""Password recovery end to end: the browser asks for a link, the mail arrives at a real
SMTP server (sent by the server's own jobs thread), the browser follows it."""

import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

import pytest

from tests.e2e.conftest import CHROMIUM, ROOT, browser, page  # noqa: F401 - shared fixtures
from tests.notifications.conftest import SmtpServer, free_port, link_in

pytestmark = pytest.mark.e2e
DEMO_EMAIL = "emprendedora@demo.serviciosvirtuales.cl"
NEW_PASSWORD = "otra-clave-de-empanadas"


@pytest.fixture(scope="module")
def mail_server(tmp_path_factory, template_db):
    """SMTP server + gunicorn sending to it (jobs every second, as `make run` does)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    smtp = SmtpServer()
    smtp.start()
    tmp = tmp_path_factory.mktemp("mail-live")
    db_file = tmp / "live.sqlite3"
    shutil.copyfile(template_db, db_file)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    bin_dir = Path(sys.executable).parent
    env = {
        "PATH": str(bin_dir) + ":/usr/bin:/bin",
        "FLASK_APP": "wsgi",
        "SV_DATABASE_URL": f"sqlite:///{db_file}",
        "SV_SECRET_KEY": "e2e-secret-key-for-tests-only-0123456789",
        "SV_UPLOAD_DIR": str(tmp / "uploads"),
        "SV_ARGON2_TIME_COST": "1",
        "SV_ARGON2_MEMORY_COST": "256",
        "SV_SMTP_HOST": "127.0.0.1",
        "SV_SMTP_PORT": str(smtp.port),
        "SV_SMTP_SECURITY": "none",
        "SV_BASE_URL": base,
    }
    subprocess.run(
        [str(bin_dir / "flask"), "sv", "demo"], cwd=ROOT, env=env, check=True, capture_output=True
    )
    log = open(tmp / "server.log", "w")  # noqa: SIM115 - closed at teardown
    proc = subprocess.Popen(
        [str(bin_dir / "gunicorn"), "--worker-class", "gthread", "-w", "1", "--threads", "8"]
        + ["--bind", f"127.0.0.1:{port}", "--no-control-socket", "wsgi:app"],
        cwd=ROOT,
        env={**env, "SV_JOBS_INTERVAL": "1"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    for _ in range(100):
        try:
            with urlopen(f"{base}/healthz", timeout=1):  # noqa: S310 - loopback only
                break
        except (URLError, ConnectionError, OSError):
            time.sleep(0.1)
    else:
        proc.terminate()
        pytest.fail("server did not start: " + (tmp / "server.log").read_text())
    yield type("MailServer", (), {"url": base, "inbox": smtp.inbox, "log": tmp / "server.log"})()
    proc.terminate()
    proc.wait(timeout=10)
    log.close()
    smtp.stop()


def _wait_for_mail(inbox, address, count, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(inbox.to(address)) >= count:
            return inbox.to(address)
        time.sleep(0.2)
    raise AssertionError(f"no mail for {address} after {timeout} s")


def test_password_recovery_in_the_browser(mail_server, page):  # noqa: F811 - fixture
    base, inbox = mail_server.url, mail_server.inbox
    page.goto(base + "/ingresar")
    page.get_by_role("link", name="¿Olvidaste tu contraseña?").click()
    page.get_by_label("RUT o correo electrónico").fill("15.555.555-6")
    page.get_by_role("button", name="Enviarme un enlace").click()
    assert "Si existe una cuenta con ese RUT o correo" in page.content()

    (message,) = _wait_for_mail(inbox, DEMO_EMAIL, 1)
    link = link_in(message, base + "/recuperar-contrasena/")
    page.goto(link)
    page.get_by_label("Nueva contraseña", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Repite la nueva contraseña").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Guardar mi nueva contraseña").click()
    try:
        page.wait_for_url(base + "/ingresar")
    except Exception as exc:  # a rare timeout here: keep what the server said with it
        raise AssertionError(mail_server.log.read_text()[-4000:]) from exc
    assert "Tu contraseña fue cambiada" in page.content()

    page.get_by_label("RUT o correo electrónico").fill(DEMO_EMAIL)
    page.get_by_label("Contraseña").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Ingresar").click()
    page.wait_for_url(base + "/")
    assert "Hola, Carolina." in page.content()
    changed = _wait_for_mail(inbox, DEMO_EMAIL, 2)[-1]
    assert "Tu contraseña cambió" in changed["Subject"]

    page.goto(link)  # used once already
    assert "Este enlace ya no es válido" in page.content()
    assert page.get_by_role("link", name="Pedir un nuevo enlace").is_visible()
