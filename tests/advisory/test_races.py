"""Contended consultas: two advisors taking one at once, or a take racing an admin's
assignment, leave one consistent history (on SQLite and on PostgreSQL's row locks)."""

import os
import threading

import pytest
from sqlalchemy import select
from sqlalchemy.pool import NullPool

from sv_platform.accounts.models import User
from sv_platform.advisory import lifecycle
from sv_platform.advisory.models import Consultation, ConsultationEvent
from sv_platform.core.domain import DomainError
from sv_platform.extensions import db
from tests.advisory.conftest import NOW

ROUNDS = 5


@pytest.fixture
def race_app(make_app):
    """A second app on this test's database whose threads each get their own connection."""
    options = {"poolclass": NullPool}
    if os.environ.get("SV_TEST_DATABASE_URL", "").startswith("postgresql"):
        options = {"pool_size": 4, "max_overflow": 0, "pool_timeout": 60}
    return make_app(SQLALCHEMY_ENGINE_OPTIONS=options)


def race(race_app, *calls):
    """Run the calls (each `f(user)` with a user id) released together; return per call
    "ok" or the name of the domain error it raised."""
    db.session.commit()  # the test's own session must not hold SQLite's write lock
    barrier = threading.Barrier(len(calls))
    outcomes = [None] * len(calls)

    def run(index, call, user_id):
        with race_app.app_context():
            actor = db.session.get(User, user_id)
            db.session.commit()  # hold nothing while waiting for the others
            barrier.wait()
            try:
                call(actor)
                outcomes[index] = "ok"
            except DomainError as error:
                outcomes[index] = type(error).__name__
            finally:
                db.session.remove()

    threads = [
        threading.Thread(target=run, args=(i, call, user_id))
        for i, (call, user_id) in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def history(consultation_id):
    db.session.expire_all()
    consultation = db.session.get(Consultation, consultation_id)
    events = db.session.scalars(
        select(ConsultationEvent)
        .where(ConsultationEvent.consultation_id == consultation_id)
        .order_by(ConsultationEvent.id)
    ).all()
    return consultation, [(e.action, e.from_status, e.to_status, e.actor_id) for e in events]


def test_two_advisors_taking_one_consulta_exactly_one_wins(race_app, make_consultation, make_user):
    first = make_user("advisor", specialty="legal")
    second = make_user("advisor", specialty="legal")
    for _ in range(ROUNDS):
        consultation_id = make_consultation().id
        outcomes = race(
            race_app,
            (lambda actor, c=consultation_id: lifecycle.take(c, actor, now=NOW), first.id),
            (lambda actor, c=consultation_id: lifecycle.take(c, actor, now=NOW), second.id),
        )
        assert sorted(outcomes) == ["InvalidTransition", "ok"]
        winner = (first, second)[outcomes.index("ok")]
        consultation, events = history(consultation_id)
        takes = [e for e in events if e[0] == "take"]
        assert takes == [("take", "nueva", "asignada", winner.id)]
        assert (consultation.status, consultation.advisor_id) == ("asignada", winner.id)


def test_a_take_racing_an_assignment_leaves_one_consistent_history(
    race_app, make_consultation, make_user, admin_user
):
    """Only one of them moves the consulta out of `nueva`. When the take is first the
    assignment that follows is a reassignment; when the assignment is first, the take is
    refused. Either way the consulta ends with the advisor of the last recorded event."""
    taker = make_user("advisor", specialty="legal")
    assignee_id = make_user("advisor", specialty="legal").id  # plain ids cross threads
    for _ in range(ROUNDS):
        consultation_id = make_consultation().id
        outcomes = race(
            race_app,
            (lambda actor, c=consultation_id: lifecycle.take(c, actor, now=NOW), taker.id),
            (
                lambda actor, c=consultation_id: lifecycle.assign(
                    c, assignee_id, actor=actor, now=NOW
                ),
                admin_user.id,
            ),
        )
        consultation, events = history(consultation_id)
        leaving_new = [e for e in events if e[1] == "nueva"]
        assert len(leaving_new) == 1, events
        assert outcomes[1] == "ok"
        if outcomes[0] == "ok":  # the take came first, the assignment reassigned
            assert [e[0] for e in events[-2:]] == ["take", "reassign"]
        else:
            assert outcomes[0] == "InvalidTransition"
            assert [e[0] for e in events][-1] == "assign"
        assert (consultation.status, consultation.advisor_id) == ("asignada", assignee_id)
