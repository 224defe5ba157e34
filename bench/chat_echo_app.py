"""The chat's floor: a Flask-SocketIO app with the chat's two events and nothing else.

`join` puts the socket in the consulta's room and acknowledges; `send` broadcasts the
message to the room but its sender (who gets it in the ack, as from the chat) and
acknowledges, storing nothing and checking nobody. Served by the
same `gunicorn -c gunicorn.conf.py` in the same async mode, with the app's pool of event
threads, it is the baseline `bench/chat_capacity.py --echo` measures: what the server
command, Engine.IO/Socket.IO and Flask cost per message before the chat's own work.
"""

import itertools
import sys
from pathlib import Path

from flask import Flask, request
from flask_socketio import SocketIO, emit, join_room

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from sv_platform.extensions import CHAT_EVENT_SLOTS, _socket_events_in_pool  # noqa: E402

app = Flask(__name__)
socketio = SocketIO(app, async_mode="threading", manage_session=False)
_socket_events_in_pool(socketio.server, CHAT_EVENT_SLOTS)
_ids = itertools.count(1)


@app.get("/healthz")
def healthz():
    return "ok"


@socketio.on("join", namespace="/chat")
def join(data):
    join_room(f"c{int(data['consultation_id'])}")
    return {"ok": True}


@socketio.on("send", namespace="/chat")
def send(data):
    payload = {
        "id": next(_ids),
        "client_msg_id": data["client_msg_id"],
        "body": data["body"],
        "author": request.sid,
    }
    emit("message", payload, to=f"c{int(data['consultation_id'])}", include_self=False)
    return {"ok": True, "message": payload}
