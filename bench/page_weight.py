"""Page weight and first paint on a slow phone: bytes and first contentful paint per page.

Starts the production server command on a throwaway migrated SQLite database with the
course content and demo accounts loaded, logs the demo entrepreneur in over HTTP, enrols
her in a course and opens a consulta through the real forms. Then drives Debian's
Chromium (Playwright, /usr/bin/chromium) with the DevTools protocol's network throttling
(slow 4G: 150 ms round trip, 1.6 Mbit/s down, 750 kbit/s up) and a 4x CPU slowdown, and
for each page records, in a fresh browser context (empty cache, the session cookie only
where the page needs a login):

- first visit: bytes received (each response's `encodedDataLength`, headers included,
  plus the payload of WebSocket frames received) and the first contentful paint;
- repeat visit: the same URL opened again in that context (what a person's phone does
  when they come back): bytes and first contentful paint.

For the consulta page it also records whether every visit ended with the chat live (joined
over its socket), how many WebSockets were opened and how many state fetches
(`/consultas/<id>/estado`) were made.

Pages: `/`, `/cursos`, a lesson that needs the enrolment, the FAQ search
(`/preguntas-frecuentes?q=boleta`) and the consulta page. `--screenshots DIR` also saves
each page at 360 and 1280 px (unthrottled) to compare looks before and after a change.
Loopback only. Prints one JSON object on the last line.

    .venv/bin/python bench/page_weight.py [--rounds 3] [--screenshots DIR]
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchlib import BIN, ROOT, login, start_gunicorn, stop

CHROMIUM = os.environ.get("SV_CHROMIUM", "/usr/bin/chromium")
COURSE, LESSON = "vende-en-linea", "catalogo-y-fotos"
DEMO_EMAIL, DEMO_PASSWORD = "emprendedora@demo.serviciosvirtuales.cl", "Servicios-Demo-2026"
SLOW_4G = {
    "offline": False,
    "latency": 150,  # ms added to every request's round trip
    "downloadThroughput": 1.6e6 / 8,  # bytes/s
    "uploadThroughput": 750e3 / 8,
}
CPU_SLOWDOWN = 4
VERBOSE = "--verbose" in sys.argv
FIRST_VISIT_TARGET, REPEAT_VISIT_TARGET, FCP_TARGET_MS = 30_000, 4_000, 1200


def prepare(base: str) -> tuple[dict, str]:
    """Log the demo entrepreneur in, enrol her in the course, open a consulta; return her
    cookies and the consulta's path."""
    session, token = login(base, DEMO_EMAIL, DEMO_PASSWORD, then=f"/cursos/{COURSE}")
    session.post(f"{base}/inscripciones/{COURSE}", data={"csrf_token": token}, timeout=10)
    page = session.get(f"{base}/consultas/nueva?area=legal", timeout=10).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = session.post(
        f"{base}/consultas/nueva",
        data={
            "csrf_token": token,
            "area": "legal",
            "subject": "¿Necesito boleta para vender por Instagram?",
            "description": "Vendo ropa por redes sociales y quiero saber qué documento "
            "tributario tengo que emitir a cada cliente.",
            "submit": "Enviar consulta",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302, response.status_code
    consulta = response.headers["Location"].replace(base, "")
    lesson = session.get(f"{base}/cursos/{COURSE}/{LESSON}", timeout=10)
    assert "Marcar como completada" in lesson.text, "the demo person could not open the lesson"
    return {c.name: c.value for c in session.cookies}, consulta


def visit(page, cdp, url: str) -> dict:
    """Open `url` and return bytes received and the first contentful paint."""
    received = {"bytes": 0, "requests": 0, "websockets": 0, "state_fetches": 0}
    urls = {}

    def started(event):
        urls[event["requestId"]] = event["request"]["url"]
        if event["request"]["url"].endswith("/estado"):
            received["state_fetches"] += 1

    def websocket(_event):
        received["websockets"] += 1

    def finished(event):
        received["bytes"] += event.get("encodedDataLength", 0)
        received["requests"] += 1
        if VERBOSE:
            print(
                f"  {event.get('encodedDataLength', 0):7.0f} {urls.get(event['requestId'])}",
                file=sys.stderr,
            )

    def frame(event):  # WebSocket frames: payload plus a 2-byte frame header
        received["bytes"] += len(event["response"].get("payloadData", "")) + 2

    cdp.on("Network.webSocketFrameReceived", frame)
    cdp.on("Network.webSocketCreated", websocket)
    cdp.on("Network.requestWillBeSent", started)
    cdp.on("Network.loadingFinished", finished)
    page.goto(url, wait_until="load")
    page.wait_for_timeout(800)  # late requests (socket.io handshake, favicon)
    fcp = page.evaluate(
        "() => { const e = performance.getEntriesByName('first-contentful-paint')[0];"
        " return e ? e.startTime : null; }"
    )
    cdp.remove_listener("Network.loadingFinished", finished)
    cdp.remove_listener("Network.requestWillBeSent", started)
    cdp.remove_listener("Network.webSocketFrameReceived", frame)
    cdp.remove_listener("Network.webSocketCreated", websocket)
    # The chat page must be live (joined over its socket), or its weight means nothing.
    live = page.evaluate(
        "() => { const s = document.getElementById('chat'); return s ? s.dataset.live : null; }"
    )
    return {**received, "fcp_ms": fcp, "chat_live": live}


def measure(browser, base: str, path: str, cookies: dict | None) -> dict:
    context = browser.new_context(locale="es-CL", viewport={"width": 360, "height": 740})
    if cookies:
        context.add_cookies(
            [{"name": k, "value": v, "url": base + "/"} for k, v in cookies.items()]
        )
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", SLOW_4G)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": CPU_SLOWDOWN})
    first = visit(page, cdp, base + path)
    repeat = visit(page, cdp, base + path)
    context.close()
    return {"first": first, "repeat": repeat}


def screenshots(browser, base: str, pages: dict, cookies: dict, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, (path, needs_login) in pages.items():
        for width in (360, 1280):
            context = browser.new_context(locale="es-CL", viewport={"width": width, "height": 900})
            if needs_login:
                context.add_cookies(
                    [{"name": k, "value": v, "url": base + "/"} for k, v in cookies.items()]
                )
            page = context.new_page()
            page.goto(base + path, wait_until="load")
            page.wait_for_timeout(300)
            page.screenshot(path=str(folder / f"{name}-{width}.png"), full_page=True)
            context.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="fresh contexts per page")
    parser.add_argument("--screenshots", type=Path, default=None)
    parser.add_argument("--verbose", action="store_true", help="list every request's bytes")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="sv-bench-weight-"))
    env = {
        **os.environ,
        "FLASK_APP": "wsgi",
        "SV_DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}",
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
    server, base = start_gunicorn(env, threads=20, log=tmp / "app.log")
    try:
        cookies, consulta = prepare(base)
        pages = {
            "home": ("/", False),
            "cursos": ("/cursos", False),
            "leccion": (f"/cursos/{COURSE}/{LESSON}", True),
            "faq-busqueda": ("/preguntas-frecuentes?q=boleta", False),
            "consulta": (consulta, True),
        }
        results = {}
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"],
            )
            for name, (path, needs_login) in pages.items():
                runs = [
                    measure(browser, base, path, cookies if needs_login else None)
                    for _ in range(args.rounds)
                ]
                results[name] = {
                    "path": path.split("?")[0] if name == "consulta" else path,
                    "first_bytes": max(r["first"]["bytes"] for r in runs),
                    "first_requests": runs[-1]["first"]["requests"],
                    "first_fcp_ms": round(statistics.median(r["first"]["fcp_ms"] for r in runs)),
                    "repeat_bytes": max(r["repeat"]["bytes"] for r in runs),
                    "repeat_requests": runs[-1]["repeat"]["requests"],
                    "repeat_fcp_ms": round(statistics.median(r["repeat"]["fcp_ms"] for r in runs)),
                }
                if name == "consulta":  # every visit live, over how many sockets and fetches
                    visits = [v for r in runs for v in (r["first"], r["repeat"])]
                    results[name]["chat_live"] = all(v["chat_live"] == "true" for v in visits)
                    results[name]["websockets"] = sum(v["websockets"] for v in visits)
                    results[name]["state_fetches"] = sum(v["state_fetches"] for v in visits)
                    results[name]["visits"] = len(visits)
            if args.screenshots:
                screenshots(browser, base, pages, cookies, args.screenshots)
            browser.close()
    finally:
        stop(server)
    shutil.rmtree(tmp, ignore_errors=True)
    for name, r in results.items():
        print(
            f"{name:13} first {r['first_bytes'] / 1000:7.1f} kB {r['first_fcp_ms']:5} ms"
            f" | repeat {r['repeat_bytes'] / 1000:6.1f} kB {r['repeat_fcp_ms']:5} ms",
            file=sys.stderr,
        )
    meets = all(
        r["first_bytes"] <= FIRST_VISIT_TARGET
        and r["repeat_bytes"] <= REPEAT_VISIT_TARGET
        and r["first_fcp_ms"] <= FCP_TARGET_MS
        for r in results.values()
    )
    print(
        json.dumps(
            {
                "benchmark": "page_weight",
                "profile": {**SLOW_4G, "cpu_slowdown": CPU_SLOWDOWN},
                "rounds": args.rounds,
                "pages": results,
                "targets": {
                    "first_bytes": FIRST_VISIT_TARGET,
                    "repeat_bytes": REPEAT_VISIT_TARGET,
                    "fcp_ms": FCP_TARGET_MS,
                },
                "meets_targets": meets,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
