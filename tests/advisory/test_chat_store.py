"""What a stored message leaves behind (the author's read mark, the other side's notice) and
the per-person send limit kept in this process's memory."""

from types import SimpleNamespace

from limits import parse as parse_limit
from sqlalchemy import select

from sv_platform.accounts.models import Notification
from sv_platform.advisory import chat
from sv_platform.advisory.models import ReadMark
from sv_platform.extensions import db


def _marks(consultation_id):
    return dict(
        db.session.execute(
            select(ReadMark.user_id, ReadMark.last_read_id).where(
                ReadMark.consultation_id == consultation_id
            )
        ).all()
    )


def _notices(user_id):
    return list(
        db.session.execute(
            select(Notification.text, Notification.url, Notification.read_at).where(
                Notification.user_id == user_id
            )
        ).all()
    )


def test_each_message_moves_its_authors_mark_and_leaves_one_notice(in_progress, legal_advisor):
    owner = in_progress.user
    first = chat.post_message(in_progress.id, owner, "Primera", "o-1").message
    assert _marks(in_progress.id)[owner.id] == first.id  # the first mark is created
    second = chat.post_message(in_progress.id, owner, "Segunda", "o-2").message
    third = chat.post_message(in_progress.id, legal_advisor, "Respuesta", "a-2").message
    marks = _marks(in_progress.id)
    assert (marks[owner.id], marks[legal_advisor.id]) == (second.id, third.id)
    # One unread notice for the advisor however many messages wait, with its text and link.
    assert _notices(legal_advisor.id) == [
        (
            f"Nuevo mensaje de {owner.name} en «{in_progress.subject}».",
            f"/consultas/{in_progress.id}",
            None,
        )
    ]
    # Someone who has read everything gets a notice for the next message only.
    chat.mark_read(in_progress.id, legal_advisor, second.id)
    assert [n for n in _notices(legal_advisor.id) if n.read_at is None] == []
    chat.post_message(in_progress.id, owner, "Tercera", "o-3")
    assert len([n for n in _notices(legal_advisor.id) if n.read_at is None]) == 1


def test_a_retry_moves_no_mark_and_adds_no_notice(in_progress, legal_advisor):
    owner = in_progress.user
    stored = chat.post_message(in_progress.id, owner, "Hola", "o-1").message
    before = (_marks(in_progress.id), _notices(legal_advisor.id))
    again = chat.post_message(in_progress.id, owner, "Hola", "o-1")
    assert not again.created and again.message.id == stored.id
    assert (_marks(in_progress.id), _notices(legal_advisor.id)) == before


def test_the_memory_limit_is_a_moving_window_per_person(monkeypatch):
    clock = SimpleNamespace(now=1000.0)
    monkeypatch.setattr(chat.time, "monotonic", lambda: clock.now)
    window, rate = chat._ProcessMovingWindow(), parse_limit("3 per 10 seconds")
    assert [window.hit(rate, "chat", "1") for _ in range(4)] == [True, True, True, False]
    assert window.hit(rate, "chat", "2")  # another person has a window of their own
    assert window.hit(parse_limit("1 per 10 seconds"), "typing", "1")  # and another kind
    clock.now += 9.9
    assert not window.hit(rate, "chat", "1")  # the first hits are still inside the window
    clock.now += 0.2
    assert [window.hit(rate, "chat", "1") for _ in range(4)] == [True, True, True, False]


def test_the_memory_limit_forgets_people_whose_window_has_passed(monkeypatch):
    clock = SimpleNamespace(now=1000.0)
    monkeypatch.setattr(chat.time, "monotonic", lambda: clock.now)
    window, rate = chat._ProcessMovingWindow(), parse_limit("2 per 10 seconds")
    for person in range(50):
        window.hit(rate, "chat", str(person))
    clock.now += chat._PRUNE_EVERY_S + 1
    window.hit(rate, "chat", "someone-new")
    assert len(window._hits) == 1
