"""The production server: `gunicorn -c gunicorn.conf.py wsgi:app` (`make run` uses it too).

One gthread worker per server: gunicorn cannot keep a Socket.IO client on one of several
workers of its own, so a machine runs several such servers on their own ports (behind nginx
with ip_hash) sharing rooms through SV_SOCKETIO_MESSAGE_QUEUE. In threading mode every open
WebSocket holds one thread, so threads are sized for the sockets a server must hold.

`-b HOST:PORT` on the command line wins; otherwise HOST (default 127.0.0.1) and PORT
(default 8000) set the address. SV_SERVER_THREADS changes the thread count.
"""

import os

bind = [f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"]
worker_class = "gthread"
workers = 1
threads = int(os.environ.get("SV_SERVER_THREADS", "600"))
# gthread counts every open connection (idle keep-alives too) against this limit.
worker_connections = threads + 400
backlog = 2048
keepalive = 5
# A worker that stops answering its heartbeat for this long is replaced; open WebSockets
# run in threads and do not block the heartbeat.
timeout = 60
graceful_timeout = 20
# No control socket: several servers may run under one account on one machine.
control_socket_disable = True

accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("SV_LOG_LEVEL", "info")
# The client address nginx saw, the request, status, size and duration in microseconds.
access_log_format = '%({x-forwarded-for}i)s %(h)s "%(r)s" %(s)s %(b)s %(D)sus'
proc_name = "sv-platform"


def post_worker_init(worker):
    """Once the worker has loaded the app: what it loaded (modules, the app, its compiled
    statements, translations, ~200,000 objects) lives as long as the process, so the
    collector's full passes stop scanning it (`gc.freeze`), and they run a tenth as often.
    A full pass stops the whole process, every open socket included: with 500 chat sockets
    they took up to 210 ms each, several times a minute (bench/README.md)."""
    import gc

    gc.collect()
    gc.freeze()
    young, middle, _full = gc.get_threshold()
    gc.set_threshold(young, middle, 100)
