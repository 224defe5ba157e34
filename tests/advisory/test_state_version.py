"""The consulta page's state version: the chat's join confirms the state the page shows, so
the page fetches /estado only when something changed since it was rendered — including a
change committed between the page and the join, whose `status` broadcast the socket missed."""

import re

import pytest

from sv_platform.accounts.models import User
from sv_platform.advisory import availability, lifecycle
from sv_platform.extensions import db


def _page_version(client, consultation_id) -> str:
    page = client.get(f"/consultas/{consultation_id}").get_data(as_text=True)
    return re.search(r'data-state-version="([0-9a-f]+)"', page).group(1)


def _join(sock, consultation_id, **extra):
    ack = sock.emit(
        "join", {"consultation_id": consultation_id, **extra}, namespace="/chat", callback=True
    )
    assert ack["ok"], ack
    return ack


def _statuses(sock):
    return [e for e in sock.get_received("/chat") if e["name"] == "status"]


@pytest.mark.parametrize("viewer", ["owner", "advisor"])
def test_the_join_confirms_an_unchanged_page(chat, in_progress, legal_advisor, viewer):
    user = in_progress.user if viewer == "owner" else legal_advisor
    http, sock = chat(user)
    version = _page_version(http, in_progress.id)
    assert _join(sock, in_progress.id, state_version=version)["state_version"] == version
    state = http.get(f"/consultas/{in_progress.id}/estado").get_json()
    assert state["state_version"] == version


def test_each_viewer_has_a_version_of_their_own(chat, in_progress, legal_advisor):
    http_owner, _ = chat(in_progress.user)
    http_advisor, _ = chat(legal_advisor)
    assert _page_version(http_owner, in_progress.id) != _page_version(http_advisor, in_progress.id)


def test_a_join_without_a_version_gets_the_same_ack_as_before(chat, in_progress):
    _, sock = chat(in_progress.user)
    assert "state_version" not in _join(sock, in_progress.id)


def test_a_change_after_the_page_gives_another_version(chat, make_consultation, legal_advisor):
    c = make_consultation()
    http, sock = chat(c.user)
    version = _page_version(http, c.id)
    lifecycle.take(c.id, legal_advisor)  # the broadcast went out before this socket joined
    ack = _join(sock, c.id, state_version=version)
    assert ack["state_version"] != version
    state = http.get(f"/consultas/{c.id}/estado").get_json()
    assert state["state_version"] == ack["state_version"]
    assert "Asesor/a: " + legal_advisor.name in state["regions"]["asignacion"]


def test_an_advisor_becoming_available_changes_the_entrepreneurs_version(
    chat, make_consultation, legal_advisor
):
    """Availability sends no `status` event: only the version tells the page."""
    c = make_consultation()
    http, sock = chat(c.user)
    version = _page_version(http, c.id)
    availability.set_available(legal_advisor, True)
    assert _join(sock, c.id, state_version=version)["state_version"] != version


def test_a_change_committed_while_the_join_reads_is_in_its_version(
    chat, make_consultation, legal_advisor, monkeypatch, while_joining
):
    """The race: a take commits on another connection after the join began reading
    (SQLite's snapshot began) and before the socket is in the room, so its broadcast
    misses the socket. The version is read after joining the room and tells the page."""
    c = make_consultation()
    http, sock = chat(c.user)
    version = _page_version(http, c.id)
    consultation_id, advisor_id = c.id, legal_advisor.id  # plain ids cross threads
    db.session.commit()
    errors = while_joining(
        lambda: lifecycle.take(consultation_id, db.session.get(User, advisor_id))
    )
    sock.get_received("/chat")
    ack = _join(sock, consultation_id, state_version=version)
    assert not errors
    assert not _statuses(sock)  # the broadcast did not reach this socket
    assert ack["state_version"] != version
    monkeypatch.undo()
    assert ack["state_version"] == _page_version(http, consultation_id)
