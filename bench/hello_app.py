"""The smallest Flask app: the baseline for bench/lesson_page.py (same gunicorn command)."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello():
    return "¡Hola, mundo!"
