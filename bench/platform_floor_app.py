"""The platform's own floor for bench/enroll_burst.py: the real app (create_app, every
extension and hook) with one more view, a logged-in POST that does what every POST of the
platform does before and after its own work — the session, the user's load, the CSRF check,
a flash message, a redirect — and nothing else. Served by the same gunicorn command."""

from flask import flash, redirect

from sv_platform import create_app
from sv_platform.extensions import reads_without_lock

app = create_app()


@app.post("/bench/nada")
@reads_without_lock
def nothing():
    flash("¡Listo! Quedaste inscrito/a en «Asesoría Legal».", "success")
    return redirect("/asesorias")
