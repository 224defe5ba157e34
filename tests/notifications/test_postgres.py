"""On PostgreSQL (SV_TEST_DATABASE_URL): two senders at once, rows claimed with
`FOR UPDATE SKIP LOCKED`, deliver 1,000 queued mails with no duplicate and none lost."""

import os
import threading
from collections import Counter

import pytest
from sqlalchemy import func, select

from sv_platform.core.timeutil import utcnow
from sv_platform.extensions import db
from sv_platform.notifications import sender, services
from sv_platform.notifications.models import OutboxMail

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not os.environ.get("SV_TEST_DATABASE_URL", "").startswith("postgresql"),
        reason="needs SV_TEST_DATABASE_URL=postgresql+psycopg://…",
    ),
]


def test_two_senders_deliver_1000_mails_once_each(make_app, mail_settings, person, inbox):
    user = person()
    now = utcnow()
    context = {"subject": "Carrera", "lines": ["x"], "action_url": "/", "action_label": "Ver"}
    context["reason"] = "Prueba de concurrencia."
    ids = set()
    for _batch in range(4):
        mails = [services.queue(user, "cupo_asignado", context, now=now) for _ in range(250)]
        db.session.commit()
        ids.update(m.id for m in mails)
    race_app = make_app(**mail_settings, MAIL_BATCH=25)
    barrier = threading.Barrier(2)
    sent_by, errors = {}, []

    def run(name):
        with race_app.app_context():
            barrier.wait()
            try:
                sent_by[name] = sender.deliver_due(now)
            except Exception as exc:  # noqa: BLE001 - asserted below
                errors.append(repr(exc))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert errors == []
    received = Counter(i for i in inbox.ids() if i in ids)
    assert set(received) == ids and max(received.values()) == 1
    assert sum(sent_by.values()) == 1000 and min(sent_by.values()) > 0  # both took part
    db.session.expire_all()
    assert (
        db.session.scalar(
            select(func.count()).where(OutboxMail.id.in_(ids), OutboxMail.status == "sent")
        )
        == 1000
    )
