"""SQLite's single write lock: a write request holds it only for its writing part."""

import pytest
from sqlalchemy import select

from sv_platform.enrollment.models import Enrollment
from sv_platform.extensions import db
from tests.accounts.test_registration import VALID as REGISTRATION
from tests.conftest import PASSWORD


def test_enrolment_post_takes_the_write_lock_after_loading_the_user(
    client, auth, make_user, make_window, transactions
):
    person = make_user()
    make_window(capacity=1)
    auth.login(person)
    db.session.commit()
    transactions.clear()
    response = client.post("/inscripciones/asesoria-legal", data={"next": "/mis-inscripciones"})
    assert response.status_code == 302
    kinds = [kind for kind, _ in transactions]
    db.session.rollback()
    assert db.session.scalar(select(Enrollment.status).where(Enrollment.user_id == person.id)) == (
        "active"
    )
    first_read, (write_kind, write_sql) = transactions[0], transactions[1]
    assert first_read[0] == "BEGIN" and any("FROM USER" in s for s in first_read[1])
    assert write_kind == "BEGIN IMMEDIATE"
    assert any(s.startswith("UPDATE ENROLLMENT_WINDOW") for s in write_sql)
    # The rules were read before: the lock is held for the seat and the row only, then for
    # the person's rows of the report summary, recomputed just before the commit.
    summary = next(
        (i for i, s in enumerate(write_sql) if "REPORT_SUMMARY_STATE" in s), len(write_sql)
    )
    assert all(s.startswith(("UPDATE", "INSERT")) for s in write_sql[:summary]), write_sql
    assert any("REPORT_BENEFICIARY_YEAR" in s for s in write_sql[summary:]), write_sql
    assert any("FROM OFFERING" in s for s in first_read[1])
    assert kinds.count("BEGIN IMMEDIATE") == 1, kinds  # reads after the commit take no lock


def test_a_waitlisted_enrolment_post_ends_with_its_write(
    client, auth, make_user, make_window, transactions
):
    """A waitlisted enrolment: the rules in one read transaction, then the write lock for
    the seat attempt, the row and the waitlist place it got; nothing is read after."""
    make_window(capacity=0)
    auth.login(make_user())
    db.session.commit()
    db.session.remove()  # the request starts with nothing loaded, as in production
    transactions.clear()
    response = client.post("/inscripciones/asesoria-legal", data={"next": "/mis-inscripciones"})
    assert response.status_code == 302
    kinds = [kind for kind, _ in transactions]
    assert kinds == ["BEGIN", "BEGIN IMMEDIATE"], transactions
    reads, (_, write_sql) = transactions[0][1], transactions[1]
    assert len(reads) == 3, [s[:80] for s in reads]  # user, offering, rules and windows
    assert [s.split()[0] for s in write_sql] == ["UPDATE", "INSERT", "SELECT"], write_sql
    assert "REPORT_" not in " ".join(write_sql)  # a waitlisted enrolment changes no summary
    page = client.get("/mis-inscripciones").get_data(as_text=True)
    assert "quedaste en lista de espera (posición 1)" in page


def test_a_refused_post_changes_nothing(client, auth, make_user, make_window):
    """The user read ends before the view; a refusal still writes nothing."""
    advisor = make_user(role="advisor", specialty="legal")
    make_window(capacity=1)
    auth.login(advisor)
    client.post("/inscripciones/asesoria-legal", data={"next": "/mis-inscripciones"})
    db.session.rollback()
    assert db.session.scalar(select(Enrollment.id).where(Enrollment.user_id == advisor.id)) is None


@pytest.fixture
def sqlite_only(app):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("the write lock is SQLite's")


def test_many_threads_writing_at_once_all_commit(app, make_user, sqlite_only):
    """Writers of one process take SQLite's lock in turn: none fails as locked, none is lost."""
    import threading

    from sv_platform.accounts import services as accounts
    from sv_platform.accounts.models import Notification
    from sv_platform.extensions import write_transaction

    person_id = make_user().id
    db.session.commit()
    errors = []

    def writer(n):
        with app.app_context():
            try:
                for i in range(10):
                    with write_transaction():
                        accounts.notify(person_id, f"Aviso {n}-{i}", commit=False)
                        db.session.commit()
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    texts = db.session.scalars(select(Notification.text).where(Notification.user_id == person_id))
    assert sorted(texts) == sorted(f"Aviso {n}-{i}" for n in range(12) for i in range(10))


@pytest.mark.parametrize("ending", ["rollback", "close", "failed statement"])
def test_a_write_that_ends_without_commit_frees_the_turn_at_once(app, sqlite_only, ending):
    """However a write transaction ends, the next writer starts at once (a turn left taken
    would stall every writer of the process for the whole busy timeout)."""
    import time

    from sqlalchemy import text

    first = db.engine.connect()
    first.begin()  # outside a request: BEGIN IMMEDIATE
    if ending == "rollback":
        first.rollback()
        first.close()
    elif ending == "close":
        first.close()
    else:
        with pytest.raises(Exception, match="no such table"):
            first.execute(text("INSERT INTO no_such_table VALUES (1)"))
        first.rollback()
        first.close()
    started = time.perf_counter()
    with db.engine.connect() as second:
        second.begin()
        second.execute(text("UPDATE user SET name = name WHERE id = 0"))
        second.commit()
    assert time.perf_counter() - started < 2


def test_a_login_holds_the_write_lock_for_its_update_alone(client, auth, make_user, transactions):
    """The user is read in a plain read transaction; the lock is taken for the last-login
    UPDATE alone (that the password is checked before it: the test below)."""
    email = make_user().email
    db.session.commit()
    db.session.remove()  # the request starts with nothing loaded, as in production
    transactions.clear()
    response = auth.login(email)
    assert response.status_code == 302
    kinds = [kind for kind, _ in transactions]
    assert kinds[:2] == ["BEGIN", "BEGIN IMMEDIATE"], transactions
    assert kinds.count("BEGIN IMMEDIATE") == 1, kinds
    reads, (_, write_sql) = transactions[0][1], transactions[1]
    assert any("FROM USER" in s for s in reads)
    assert [s.split()[0] for s in write_sql] == ["UPDATE"], write_sql
    assert client.get("/perfil").status_code == 200  # logged in


STAFF = {
    "rut": "16.666.666-k",
    "name": "Asesora Nueva",
    "email": "asesora.nueva@ejemplo.cl",
    "specialty": "legal",
    "password": "asesora-clave-inicial-2026",
}


@pytest.mark.parametrize(
    "action", ["login", "registration", "recovery", "new advisor", "password change"]
)
def test_other_writers_go_on_while_a_password_is_hashed(
    app, auth, make_user, sqlite_only, monkeypatch, action
):
    """argon2 takes tens of milliseconds per password: while a login, a registration, a
    recovery, an admin creating an account or a password change runs it, another person's
    write (here a notice) commits at once instead of waiting for SQLite's lock."""
    import threading
    import time

    from sv_platform.accounts import services as accounts
    from sv_platform.accounts.models import Notification, User
    from sv_platform.core.timeutil import utcnow
    from sv_platform.extensions import write_transaction
    from sv_platform.notifications import recovery

    person, other = make_user(), make_user()
    email, other_id = person.email, other.id
    path, form, module, slow = {
        "login": ("/ingresar", {"identifier": email, "password": PASSWORD}, accounts, "verify"),
        "registration": ("/registro", REGISTRATION, accounts, "hash"),
        "recovery": (None, {"new_password": "otra-clave-larga-2026"}, recovery, "hash"),
        "new advisor": ("/admin/asesores", STAFF, accounts, "hash"),
        "password change": (
            "/perfil/contrasena",
            {"w-current_password": PASSWORD, "w-new_password": "otra-clave-larga-2026"},
            accounts,
            "verify",
        ),
    }[action]
    if action == "recovery":
        path = f"/recuperar-contrasena/{recovery.issue(person, recovery.RESET, now=utcnow())}"
        form = form | {"confirm_password": form["new_password"]}
    if action == "new advisor":
        auth.login(make_user("admin"))
    if action == "password change":
        auth.login(email)
    db.session.commit()  # this thread holds no transaction
    hashing, written = threading.Event(), threading.Event()
    slow = f"{slow}_password"
    real = getattr(module, slow)

    def slow_argon2(*args):
        hashing.set()
        written.wait(timeout=5)  # the hash lasts until the other write is done (or 5 s)
        return real(*args)

    monkeypatch.setattr(module, slow, slow_argon2)
    outcome = {}

    def post():
        with app.app_context():
            outcome["response"] = auth.client.post(path, data=form)

    request = threading.Thread(target=post)
    request.start()
    assert hashing.wait(timeout=5)
    started = time.perf_counter()
    with write_transaction():
        accounts.notify(other_id, "Aviso durante un ingreso", commit=False)
        db.session.commit()
    waited = time.perf_counter() - started
    written.set()
    request.join(timeout=10)
    assert waited < 2, f"the write waited {waited:.1f} s for the {action}'s password hash"
    assert outcome["response"].status_code == 302
    assert db.session.scalar(select(Notification.text).where(Notification.user_id == other_id)) == (
        "Aviso durante un ingreso"
    )
    created = {"registration": "María José Rojas", "new advisor": "Asesora Nueva"}
    if action in created:
        assert db.session.scalar(select(User.name).where(User.name == created[action]))
