"""Entry point for servers: `gunicorn -w 1 --threads 100 wsgi:app`."""

from sv_platform import create_app

app = create_app()
