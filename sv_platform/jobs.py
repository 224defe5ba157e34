"""Periodic jobs: `flask sv jobs run` does every due task once.

Each job is idempotent and safe to run from two machines at once: it reads what is due and
changes each row under its lock (or with a conditional UPDATE), so a second run finds
nothing left to do. `make run` runs them every minute from a scheduler thread in the server
process (`SV_JOBS_INTERVAL`); production runs `flask sv jobs run` from a systemd timer or
cron and leaves the interval at 0.
"""

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from sv_platform.core.timeutil import utcnow
from sv_platform.extensions import db

log = logging.getLogger(__name__)


def _auto_close(now: datetime) -> int:
    from sv_platform.advisory import lifecycle

    return lifecycle.auto_close_due(now=now)


def _pending_egresos(now: datetime) -> int:
    from sv_platform.courses import services as courses

    return courses.graduate_completed(now=now)


def _report_summary(now: datetime) -> int:
    from sv_platform.reports import summary

    return summary.job(now)


def _send_mail(now: datetime) -> int:
    from sv_platform.notifications import sender

    return sender.deliver_due(now)


def _deadline_warnings(now: datetime) -> int:
    from sv_platform.notifications import receivers

    return receivers.warn_deadlines(now)


# name → job(now) returning how many things it did. Domains add their periodic work here.
JOBS: dict[str, Callable[[datetime], int]] = {
    "cierre_automatico": _auto_close,
    "egresos_pendientes": _pending_egresos,
    "avisos_de_plazo": _deadline_warnings,
    "resumen_de_reportes": _report_summary,
    # Last: mail queued by the jobs above goes out in the same run.
    "correo": _send_mail,
}


def run_due(*, now: datetime | None = None) -> dict[str, int]:
    """Run every job once; a failing job is logged and does not stop the others. Returns
    what each did (-1 for a job that failed)."""
    now = now or utcnow()
    done = {}
    for name, job in JOBS.items():
        try:
            done[name] = job(now)
        except Exception:  # one broken job must not starve the others
            log.exception("job %s failed", name)
            db.session.rollback()
            done[name] = -1
    return done


def _loop(app, interval: float, stop: threading.Event) -> None:
    while not stop.wait(interval):
        with app.app_context():
            try:
                run_due()
            finally:
                db.session.remove()


def start_scheduler(app, interval: float) -> threading.Event:
    """Run the jobs every `interval` seconds in a daemon thread of this process. Returns
    the event that stops it."""
    stop = threading.Event()
    thread = threading.Thread(target=_loop, args=(app, interval, stop), name="sv-jobs", daemon=True)
    thread.start()
    app.extensions["sv_jobs_stop"] = stop
    return stop


def init_app(app) -> None:
    interval = float(app.config.get("JOBS_INTERVAL") or 0)
    if interval > 0 and not app.testing:
        start_scheduler(app, interval)
