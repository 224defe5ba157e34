"""Home, privacy notice and health check."""

from flask import jsonify, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import text

from sv_platform.core import bp
from sv_platform.core.security import public
from sv_platform.core.web import acting_user
from sv_platform.extensions import db, limiter

# Staff have no home of their own: "/" takes them where login does.
STAFF_HOMES = {"admin": "reports.dashboard", "advisor": "advisory.advisor_queue"}


@bp.get("/")
@public
def home():
    if not current_user.is_authenticated:
        return render_template("core/home.html")
    if current_user.role in STAFF_HOMES:
        return redirect(url_for(STAFF_HOMES[current_user.role]))
    from sv_platform.reports.home import home_page  # core loads before the domains

    return render_template("core/my_home.html", home=home_page(acting_user()))


@bp.get("/privacidad")
@public
def privacy():
    return render_template("core/privacy.html")


@bp.get("/healthz")
@public
@limiter.exempt
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
        database = "ok"
    except Exception:  # noqa: BLE001 - any failure means the database is not usable
        db.session.rollback()
        database = "error"
    status = 200 if database == "ok" else 503
    return jsonify({"status": "ok" if status == 200 else "error", "db": database}), status
