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
def live_server(tmp_path_factory, template_db, postgres_databases):
    """gunicorn serving the app on a fresh copy of the migrated database (SQLite, or
    PostgreSQL under SV_TEST_DATABASE_URL), content loaded."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    tmp = tmp_path_factory.mktemp("live")
    if postgres_databases is None:
        db_file = tmp / "live.sqlite3"
        shutil.copyfile(template_db, db_file)
        db_url = f"sqlite:///{db_file}"
    else:
        db_url = postgres_databases.create()
    port = _free_port()
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "FLASK_APP": "wsgi",
        "SV_DATABASE_URL": db_url,
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
    if postgres_databases is not None:
        postgres_databases.drop(db_url)


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
    """A page whose every navigation is checked by axe-core (see CheckedPage)."""
    context = browser.new_context(locale="es-CL", viewport={"width": 1280, "height": 900})
    page = checked(context.new_page())
    yield page
    context.close()


# ---------------------------------------------------------------------------------------
# Accessibility: axe-core (bundled by axe-playwright-python, no CDN) with every default rule
# (WCAG 2.0–2.2 A/AA and best practices, text contrast included) plus WCAG 2.2's target
# size, which axe leaves off by default. Focus visibility and its 3:1 contrast, which axe
# does not measure, are checked by tabbing through the page (`focus_problems`).
AXE_OPTIONS = {"resultTypes": ["violations"], "rules": {"target-size": {"enabled": True}}}
_axe = None


def axe_violations(page) -> list[dict]:
    """axe-core's violations on the page as it is now, each with the URL for the report."""
    global _axe
    if _axe is None:
        from axe_playwright_python.sync_playwright import Axe

        _axe = Axe()
    results = _axe.run(page, options=AXE_OPTIONS).response
    return [{**violation, "url": page.url} for violation in results["violations"]]


def describe(violations: list[dict]) -> str:
    """Violations as lines a person can act on: page, rule, help, each element and why."""
    lines = []
    for v in violations:
        lines.append(f"\n{v['url']}\n  [{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
        for node in v["nodes"][:8]:
            why = "; ".join(c["message"] for c in node["any"] + node["all"] + node["none"])
            lines.append(f"    {' > '.join(node['target'])}\n      {node['html'][:200]}")
            lines.append(f"      → {why[:300]}")
        if len(v["nodes"]) > 8:
            lines.append(f"    … and {len(v['nodes']) - 8} more elements")
    return "\n".join(lines)


def assert_accessible(page) -> None:
    violations = axe_violations(page)
    assert not violations, "axe-core found accessibility violations:" + describe(violations)


_FOCUS_STATE = r"""() => {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return null;
  const parse = c => {
    const m = /rgba?\(([^)]+)\)/.exec(c || "");
    if (!m) return null;
    const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const background = node => {
    const layers = [];
    for (let n = node; n && n.nodeType === 1; n = n.parentElement) {
      const c = parse(getComputedStyle(n).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let out = [255, 255, 255];
    for (const c of layers.reverse()) out = out.map((v, i) => v * (1 - c[3]) + c[i] * c[3]);
    return out;
  };
  const lum = rgb => {
    const [r, g, b] = rgb.map(v => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const ratio = (a, b) => {
    const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
    return (x + 0.05) / (y + 0.05);
  };
  const cs = getComputedStyle(el);
  const ring = parse(cs.outlineColor);
  const width = cs.outlineStyle === "none" ? 0 : parseFloat(cs.outlineWidth);
  const offset = parseFloat(cs.outlineOffset) || 0;
  const rect = el.getBoundingClientRect();
  // What lies next to the ring: the element (ring on it) or what is behind it, and the
  // halo colour of a box-shadow filling the offset gap.
  const neighbours = [offset > 0 ? background(el.parentElement) : background(el)];
  const halo = parse(cs.boxShadow);
  if (halo && halo[3] >= 1 && offset > 0) neighbours.push(halo.slice(0, 3));
  const contrast = ring && width ? Math.min(...neighbours.map(n => ratio(ring.slice(0, 3), n))) : 0;
  const label = (el.getAttribute("aria-label") || el.innerText || el.value || el.name || "")
    .trim().slice(0, 40);
  return {
    element: el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + " «" + label + "»",
    width, contrast: Math.round(contrast * 100) / 100,
    visible: rect.width > 0 && rect.height > 0 && cs.visibility !== "hidden",
  };
}"""


def focus_state(page) -> dict | None:
    """The focused element's focus indicator: outline width (px), its contrast against
    what is next to it, and whether the element is on screen."""
    return page.evaluate(_FOCUS_STATE)


def focus_problems(page, *, limit: int = 60) -> list[str]:
    """Tab through the page from the top (at most `limit` stops) and list every focused
    element without a visible indicator of at least 2 px with 3:1 contrast (WCAG 2.2 AA)."""
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.evaluate("window.scrollTo(0, 0)")
    problems, seen = [], set()
    for _ in range(limit):
        page.keyboard.press("Tab")
        state = focus_state(page)
        if state is None:
            break
        if state["element"] in seen:
            continue
        seen.add(state["element"])
        if not state["visible"] or state["width"] < 2 or state["contrast"] < 3:
            problems.append(f"{page.url}: {state}")
    return problems


class CheckedPage:
    """A Playwright page that runs axe-core at every place a journey lands on a page:
    after goto/reload, when a test waits for a URL or a load state, and, before leaving a
    document that no check has seen (e.g. reached by a click), on the way out."""

    def __init__(self, page):
        self._page = page

    def __getattr__(self, name):
        return getattr(self._page, name)

    @property
    def unwrapped(self):
        return self._page

    def check(self) -> None:
        assert_accessible(self._page)
        self._page.evaluate("window.__svAxeChecked = true")

    def _check_unseen(self) -> None:
        url = self._page.url
        if url.startswith("http") and not self._page.evaluate("!!window.__svAxeChecked"):
            self.check()

    def goto(self, url, **kwargs):
        self._check_unseen()
        response = self._page.goto(url, **kwargs)
        self._check_unseen()
        return response

    def reload(self, **kwargs):
        self._check_unseen()
        response = self._page.reload(**kwargs)
        self._check_unseen()
        return response

    def wait_for_url(self, url, **kwargs):
        self._page.wait_for_url(url, **kwargs)
        self._check_unseen()

    def wait_for_load_state(self, *args, **kwargs):
        self._page.wait_for_load_state(*args, **kwargs)
        self._check_unseen()


def checked(page) -> CheckedPage:
    page.set_default_timeout(15_000)
    return CheckedPage(page)


def shot(page, name: str, width: int) -> None:
    """Save a full-page screenshot at `width` px into SCREENSHOTS, after checking
    that the page fits that width (no sideways scrolling on a phone) and, on checked
    pages, that axe-core finds nothing at that width."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": width, "height": 900})
    if isinstance(page, CheckedPage):
        page.check()
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
    page.get_by_label("WhatsApp").check()
    page.get_by_label("Acepto el uso de mis datos personales").check()
    page.get_by_role("button", name="Crear mi cuenta").click()
    page.wait_for_url(base + "/")
