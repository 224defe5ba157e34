"""A chat event leaves no reference cycles behind: in a server holding hundreds of sockets
every cycle waits for the garbage collector, whose full passes stop the whole process."""

import gc
import types

from flask import Request, request
from flask.ctx import RequestContext

from sv_platform.extensions import socketio
from tests.advisory.conftest import send_message


def test_sends_leave_no_cyclic_garbage(chat, in_progress, legal_advisor):
    _h1, owner = chat(in_progress.user)
    _h2, advisor = chat(legal_advisor)
    for sock in (owner, advisor):
        assert sock.emit(
            "join", {"consultation_id": in_progress.id}, namespace="/chat", callback=True
        )["ok"]
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)  # what the collector finds is kept in gc.garbage
    try:
        for n in range(20):
            ack = send_message(owner, in_progress.id, f"Mensaje {n}", f"g{n}")
            assert ack["ok"], ack
        gc.collect()
        kinds = {type(obj) for obj in gc.garbage}
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert len([e for e in advisor.get_received("/chat") if e["name"] == "message"]) == 20
    # Werkzeug's URL matcher and Markdown's postprocessor leave a small closure each (cells,
    # functions); a routing exception kept on each event's request left its traceback, the
    # frames, the request and its context, the session and the user in a cycle
    assert not kinds & {types.TracebackType, types.FrameType, RequestContext, Request}, kinds


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
