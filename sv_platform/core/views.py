"""Home, privacy notice and health check."""

from flask import jsonify, render_template
from sqlalchemy import text

from sv_platform.core import bp
from sv_platform.core.security import public
from sv_platform.extensions import db, limiter


@bp.get("/")
@public
def home():
    return render_template("core/home.html")


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
