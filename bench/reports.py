"""Reports at scale: 300,000 people, 1,000,000 enrolments, 150,000 consultas and 200,000
survey answers, bulk-inserted into a throwaway database built by the real migrations; then
the dashboard's national yearly view, one región's view and the full CSV export are timed
through the real HTTP routes (in-process test client, logged in as an admin).

After the bulk load (which bypasses the services, as a migration's backfill would) the
beneficiaries' summary is rebuilt with `summary.rebuild()` (timed). Baseline in the same
run: the same views through the same routes with the summary switched off, i.e. computed
by `reports.reference` straight from the source tables (the computation the dashboard
used before the summary existed); the figures of both are compared.

    .venv/bin/python bench/reports.py                       # SQLite file in /tmp
    .venv/bin/python bench/reports.py --database postgresql+psycopg://postgres@127.0.0.1/sv_bench
    .venv/bin/python bench/reports.py --scale 0.05          # quick run (5 % of the rows)

Prints one JSON object on its last line.
"""

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from sv_platform import create_app  # noqa: E402
from sv_platform.config import TestConfig  # noqa: E402

YEARS = list(range(2020, 2027))
COURSES = 8
PASSWORD = "clave-de-bench-segura-2026"


def settings(url: str) -> dict:
    values = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
    values.update(SQLALCHEMY_DATABASE_URI=url, TESTING=False)
    return values


def prepare_postgres(url: str) -> None:
    """A fresh database of that name (dropped first when it exists)."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    server = url.replace("+psycopg", "").rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _plain(value):
    """Naive UTC for timestamps (what the UTCDateTime columns store)."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def bulk(db, model, rows: list[dict]) -> None:
    """Fast bulk insert through the driver: COPY on PostgreSQL, executemany on SQLite."""
    if not rows:
        return
    table = model.__table__
    columns = list(rows[0])
    data = [tuple(_plain(row[c]) for c in columns) for row in rows]
    names = ", ".join(columns)
    cursor = db.session.connection().connection.cursor()
    if db.session.get_bind().dialect.name == "postgresql":
        with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
            for row in data:
                copy.write_row(row)
        if "id" in columns:
            sequence = f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', 'id'), "
            sequence += f'(SELECT max(id) FROM "{table.name}"))'  # noqa: S608 - model names
            cursor.execute(sequence)
    else:
        marks = ", ".join("?" for _ in columns)
        sql = f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})'  # noqa: S608 - model names
        cursor.executemany(sql, data)
    db.session.commit()


def moment(rng: random.Random, year: int) -> datetime:
    start = datetime(year, 1, 1, 4, tzinfo=UTC)  # 1 January, 01:00 in Chile
    return start + timedelta(seconds=rng.randrange(364 * 86400))


def generate(db, scale: float, seed: int) -> dict:
    """Bulk-insert the data set; returns how many rows of each kind."""
    from sv_platform.accounts import territory
    from sv_platform.accounts.models import EDUCATION_LEVELS, SEXES, Company, User
    from sv_platform.advisory.models import Consultation
    from sv_platform.enrollment.models import Enrollment, EnrollmentWindow, Offering
    from sv_platform.enrollment.services import ensure_advisory_offerings
    from sv_platform.reports.models import (
        CHANNELS,
        AnnualSurvey,
        AnnualSurveyAnswer,
        ChannelBaseline,
        ExitSurvey,
    )

    rng = random.Random(seed)
    n_users = int(300_000 * scale)
    n_enrol = int(1_000_000 * scale)
    n_consult = int(150_000 * scale)
    n_answers = int(200_000 * scale)

    regions = territory.region_names()
    comunas = {r["code"]: [c["code"] for c in r["comunas"]] for r in territory.regions()}
    region_codes = list(regions)
    weights = [40 if code == "13" else 4 for code in region_codes]
    sexes, education = list(SEXES), list(EDUCATION_LEVELS)
    channels = [c for c in CHANNELS if c != "ninguno"]
    users, companies, baselines = [], [], []
    for i in range(1, n_users + 1):
        region = rng.choices(region_codes, weights)[0]
        created = moment(rng, rng.choice(YEARS))
        users.append(
            dict(
                id=i,
                rut=f"{30_000_000 + i}-0",
                email=f"persona{i}@bench.cl",
                name=f"Persona Bench {i}",
                phone="+56 9 1111 2222",
                password_hash="!",
                role="entrepreneur",
                region_code=region,
                comuna_code=rng.choice(comunas[region]),
                sex=rng.choices(sexes, [52, 46, 1, 1])[0],
                birth_date=date(rng.randint(1950, 2006), rng.randint(1, 12), rng.randint(1, 28)),
                education_level=rng.choice(education),
                session_version=1,
                active=True,
                created_at=created,
            )
        )
        if rng.random() < 0.3:
            companies.append(
                dict(user_id=i, rut=f"{70_000_000 + rng.randrange(n_users)}-0", updated_at=created)
            )
        picked = ["ninguno"] if rng.random() < 0.45 else rng.sample(channels, rng.randint(1, 3))
        baselines.append(
            dict(
                user_id=i,
                channels=",".join(picked),
                sells_digital=picked != ["ninguno"],
                source="registro",
                answered_at=created,
            )
        )
    bulk(db, User, users)
    bulk(db, Company, companies)
    bulk(db, ChannelBaseline, baselines)
    del users, companies, baselines

    legal, sustainability = ensure_advisory_offerings()
    offering_rows = [
        dict(
            slug=f"curso-bench-{k}",
            kind="course",
            reference=f"curso-bench-{k}",
            title=f"Curso bench {k}",
            active=True,
        )
        for k in range(COURSES)
    ]
    bulk(db, Offering, offering_rows)
    offerings = [
        oid for (oid,) in db.session.execute(text("SELECT id FROM offering ORDER BY id")).all()
    ]
    advisory = {legal.id, sustainability.id}
    window_rows, window_of = [], {}
    wid = 0
    for oid in offerings:
        for year in YEARS:
            wid += 1
            window_rows.append(
                dict(
                    id=wid,
                    offering_id=oid,
                    name=f"Ventana {oid} {year}",
                    opens_at=datetime(year, 1, 1, 4, tzinfo=UTC),
                    closes_at=datetime(year + 1, 1, 1, 3, tzinfo=UTC),
                    capacity=10 * n_enrol,
                    used=0,
                    created_at=datetime(year, 1, 1, 4, tzinfo=UTC),
                )
            )
            window_of[(oid, year)] = wid
    bulk(db, EnrollmentWindow, window_rows)

    enrol_rows, graduated = [], []
    for i in range(1, n_enrol + 1):
        year = rng.choice(YEARS)
        oid = rng.choice(offerings)
        created = moment(rng, year)
        roll = rng.random()
        promoted = None
        if year == 2026:
            status = (
                "active"
                if roll < 0.5
                else "graduated"
                if roll < 0.85
                else "cancelled"
                if roll < 0.95
                else "waitlisted"
            )
        else:
            status = "graduated" if roll < 0.7 else "cancelled"
        grad = None
        if status == "graduated":
            days = rng.randint(1, 30) if oid in advisory else rng.randint(20, 400)
            grad = created + timedelta(days=days)
            if grad.year > 2026:
                grad = datetime(2026, 11, 30, tzinfo=UTC)
            graduated.append((i, grad))
        if rng.random() < 0.05 and status != "waitlisted":
            promoted = created + timedelta(days=rng.randint(1, 20))
        enrol_rows.append(
            dict(
                id=i,
                user_id=rng.randint(1, n_users),
                window_id=window_of[(oid, year)],
                offering_id=oid,
                status=status,
                created_at=created,
                promoted_at=promoted,
                graduated_at=grad,
                cancelled_at=created + timedelta(days=3) if status == "cancelled" else None,
                open_slot=None,
            )
        )
    bulk(db, Enrollment, enrol_rows)
    users_of = {row["id"]: row["user_id"] for row in enrol_rows}
    service_of = {
        oid: ("legal" if oid == legal.id else "sustainability" if oid in advisory else "course")
        for oid in offerings
    }
    offering_of = {row["id"]: row["offering_id"] for row in enrol_rows}
    del enrol_rows
    db.session.execute(
        text(
            "UPDATE enrollment_window SET used = (SELECT count(*) FROM enrollment e "
            "WHERE e.window_id = enrollment_window.id AND e.status IN ('active', 'graduated'))"
        )
    )
    db.session.commit()

    consult_rows = []
    statuses = ["nueva", "asignada", "en_curso", "esperando_emprendedor", "resuelta", "cerrada"]
    for i in range(1, n_consult + 1):
        created = moment(rng, rng.choice(YEARS))
        status = rng.choices(statuses, [3, 3, 8, 4, 12, 70])[0]
        first = created + timedelta(hours=rng.randint(1, 120)) if status != "nueva" else None
        resolved = (
            created + timedelta(hours=rng.randint(24, 480))
            if status in ("resuelta", "cerrada")
            else None
        )
        consult_rows.append(
            dict(
                id=i,
                user_id=rng.randint(1, n_users),
                area=rng.choice(["legal", "sustainability"]),
                subject="Consulta de prueba",
                description="Texto",
                status=status,
                created_at=created,
                opened_at=created,
                first_response_at=first,
                resolved_at=resolved,
                first_response_due_at=created + timedelta(days=3),
                resolution_due_at=created + timedelta(days=14),
                rating=rng.randint(1, 5) if status == "cerrada" else None,
            )
        )
    bulk(db, Consultation, consult_rows)
    del consult_rows

    def answer(when: datetime) -> dict:
        picked = ["ninguno"] if rng.random() < 0.3 else rng.sample(channels, rng.randint(1, 3))
        return dict(
            channels=",".join(picked),
            sells_digital=picked != ["ninguno"],
            sold_last_3_months=rng.random() < 0.6,
            sales_range=rng.choice(["hasta_500k", "500k_2m", "2m_8m", "mas_8m"]),
            satisfaction=rng.choices(range(1, 8), [1, 1, 2, 4, 10, 30, 52])[0],
            helped_with="vender_en_linea",
            comment=None,
            answered_at=when + timedelta(days=1),
        )

    n_exit = min(int(n_answers * 0.75), len(graduated))
    exit_rows = [
        dict(
            user_id=users_of[eid],
            enrollment_id=eid,
            service=service_of[offering_of[eid]],
            year=grad.year,
            **answer(grad),
        )
        for eid, grad in rng.sample(graduated, n_exit)
    ]
    bulk(db, ExitSurvey, exit_rows)
    surveys = []
    for year in YEARS:
        surveys.append(dict(year=year, opened_at=datetime(year, 11, 1, tzinfo=UTC), invited=0))
    bulk(db, AnnualSurvey, surveys)
    survey_ids = dict(db.session.execute(text("SELECT year, id FROM annual_survey")).all())
    n_annual = n_answers - n_exit
    annual_rows, seen = [], set()
    while len(annual_rows) < n_annual:
        year, uid = rng.choice(YEARS), rng.randint(1, n_users)
        if (year, uid) in seen:
            continue
        seen.add((year, uid))
        annual_rows.append(
            dict(
                survey_id=survey_ids[year],
                user_id=uid,
                year=year,
                **answer(datetime(year, 11, 2, tzinfo=UTC)),
            )
        )
    bulk(db, AnnualSurveyAnswer, annual_rows)
    return {
        "users": n_users,
        "enrolments": n_enrol,
        "consultations": n_consult,
        "survey_answers": n_exit + len(annual_rows),
        "channel_baselines": n_users,
    }


def analyze(db) -> None:
    """Statistics for the planner after the bulk load; on PostgreSQL also the visibility
    map (VACUUM), which autovacuum sets within minutes of a bulk insert in production and
    without which no index-only scan avoids the heap."""
    if db.engine.dialect.name == "postgresql":
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM (ANALYZE)"))
        return
    db.session.execute(text("ANALYZE"))
    db.session.commit()


def timed(fn, repeat: int) -> dict:
    values = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        values.append(time.perf_counter() - start)
    return {
        "best_s": round(min(values), 3),
        "median_s": round(statistics.median(values), 3),
        "runs": repeat,
    }


def _figures_of(page: str) -> str:
    """The dashboard page without what differs between two renderings (the CSRF token)."""
    import re

    return re.sub(r'(name="csrf_token"[^>]*value=|name="csrf-token" content=)"[^"]*"', "", page)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default=None, help="SQLAlchemy URL (default: SQLite)")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="sv-bench-reports-")
    url = args.database or f"sqlite:///{folder}/reports.sqlite3"
    if url.startswith("postgresql"):
        prepare_postgres(url)
    os.environ.pop("SV_DATABASE_URL", None)
    app = create_app(settings(url))

    from flask_migrate import upgrade

    from sv_platform.accounts import services as accounts
    from sv_platform.extensions import db

    with app.app_context():
        upgrade()
        start = time.perf_counter()
        counts = generate(db, args.scale, args.seed)
        load_s = time.perf_counter() - start
        from sv_platform.reports import summary

        start = time.perf_counter()
        summary_rows = summary.rebuild()
        db.session.commit()
        rebuild_s = time.perf_counter() - start
        analyze(db)
        admin = accounts.create_staff(
            role="admin",
            rut="11.111.111-1",
            email="admin@bench.cl",
            name="Admin Bench",
            password=PASSWORD,
        )
        client = app.test_client()
        client.post("/ingresar", data={"identifier": admin.email, "password": PASSWORD})

        def get(path: str):
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
            return response

        def export():
            response = client.post(
                "/admin/reportes/exportar/inscripciones.csv?year=2026", data={"completo": "1"}
            )
            body = response.get_data()
            assert response.status_code == 200
            export.rows = body.count(b"\r\n") - 1
            export.mb = round(len(body) / 1e6, 1)

        get("/admin/reportes?year=2025")  # warm-up: templates compiled, holidays loaded
        national = timed(lambda: get("/admin/reportes?year=2026"), args.repeat)
        region = timed(lambda: get("/admin/reportes?year=2026&region=13"), args.repeat)
        small_region = timed(lambda: get("/admin/reportes?year=2026&region=11"), args.repeat)
        csv_export = timed(export, max(1, args.repeat - 2))
        page = get("/admin/reportes?year=2026").get_data(as_text=True)
        assert "Indicador de propósito" in page

        from sv_platform.reports import reference, services, summary

        exact = {}
        for label, extra in (("national", {}), ("region_13", {"region": "13"})):
            f = services.Filters(2026, **extra)
            exact[label] = services.dashboard(f) == reference.dashboard(f)
        board = services.dashboard(services.Filters(2026))

        covers = summary.covers
        summary.covers = lambda _year: False  # the baseline: no summary, reference figures
        try:
            get("/admin/reportes?year=2025")
            old_national = timed(lambda: get("/admin/reportes?year=2026"), args.repeat)
            old_region = timed(lambda: get("/admin/reportes?year=2026&region=13"), args.repeat)
            old_small = timed(lambda: get("/admin/reportes?year=2026&region=11"), args.repeat)
            old_page = get("/admin/reportes?year=2026").get_data(as_text=True)
        finally:
            summary.covers = covers
        same_page = _figures_of(page) == _figures_of(old_page)
        db.session.remove()
        db.engine.dispose()

    result = {
        "benchmark": "reports",
        "database": "postgresql" if url.startswith("postgresql") else "sqlite",
        "scale": args.scale,
        "rows": counts,
        "load_s": round(load_s, 1),
        "beneficiaries_2026": board.beneficiaries.persons,
        "purpose_official_rate_2026": round(board.purpose.total.official_rate or 0, 4),
        "national_view": national,
        "region_13_view": region,
        "region_11_view": small_region,
        "full_csv_export_2026": {**csv_export, "rows": export.rows, "mb": export.mb},
        "summary_rebuild_s": round(rebuild_s, 1),
        "summary_rows": summary_rows,
        "figures_identical_to_reference": {**exact, "dashboard_page": same_page},
        "baseline_reference_national_view": old_national,
        "baseline_reference_region_13_view": old_region,
        "baseline_reference_region_11_view": old_small,
        "target_national_view_s": 1.0,
        "target_met": national["median_s"] < 1.0,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
