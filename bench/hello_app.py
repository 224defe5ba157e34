"""The smallest Flask app: the baseline for bench/lesson_page.py and bench/enroll_burst.py
(same gunicorn command)."""

from flask import Flask, redirect

app = Flask(__name__)


@app.get("/")
def hello():
    return "¡Hola, mundo!"


@app.post("/")
def hello_post():
    """The burst's floor: a POST answered with a redirect, as the enrolment is."""
    return redirect("/")
