"""A chat event leaves no reference cycles behind: in a server holding hundreds of sockets
every cycle waits for the garbage collector, whose full passes stop the whole process."""

import gc

from flask import request

from sv_platform.extensions import socketio


def test_sends_leave_no_cyclic_garbage(chat, in_progress, legal_advisor):
    _h1, owner = chat(in_progress.user)
    _h2, advisor = chat(legal_advisor)
    for sock in (owner, advisor):
        assert sock.emit(
            "join", {"consultation_id": in_progress.id}, namespace="/chat", callback=True
        )["ok"]
    gc.collect()
    gc.disable()
    try:
        for n in range(20):
            ack = owner.emit(
                "send",
                {
                    "consultation_id": in_progress.id,
                    "body": f"Mensaje {n}",
                    "client_msg_id": f"g{n}",
                },
                namespace="/chat",
                callback=True,
            )
            assert ack["ok"], ack
        found = gc.collect()
    finally:
        gc.enable()
    assert len([e for e in advisor.get_received("/chat") if e["name"] == "message"]) == 20
    # Werkzeug's URL matcher and Markdown's postprocessor leave a small closure each (13
    # objects a send); a routing exception kept on each event's request left 73 (frames,
    # tracebacks, the request, its context, the session and the user)
    assert found <= 20 * 15, f"{found} objects in reference cycles after 20 sends"


def test_an_events_request_context_matches_the_socket_path(app, chat, in_progress):
    seen = {}

    @socketio.on("probe", namespace="/chat")
    def probe(_data=None):
        seen["exception"] = request.routing_exception
        seen["endpoint"] = request.endpoint
        return True

    try:
        _http, sock = chat(in_progress.user)
        assert sock.emit("probe", {}, namespace="/chat", callback=True) is True
    finally:
        socketio.server.handlers["/chat"].pop("probe", None)
    assert seen == {"exception": None, "endpoint": "socket_path"}
