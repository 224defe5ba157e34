"""The admin's people register at program scale: `/admin/personas` on 300,000 people.

Builds a throwaway database with the real migrations (SQLite file, and a PostgreSQL
database on 127.0.0.1:5432 created and dropped by the script), bulk-inserts N people (real
regions and comunas, Chilean names with accents, valid RUTs, 40 % with a company) and their
search keys, then times the full page (Flask test client, logged in as an admin: search
service, rendering, audit-free GET) for searches by RUT in three spellings, a name, two
words, an email prefix, a razón social and a company RUT; filtered listings (región,
región + sexo, comuna, role, registration period); and keyset pages deep into the list.
Each query's SQL is run through EXPLAIN; a plan that reads a whole table is reported.
Baseline in the same run: the same name search as a `lower(name) LIKE '%word%'` scan.
Target: p95 under 100 ms per page on both databases. Prints one JSON object last.

    .venv/bin/python bench/admin_people.py                  # 300k, SQLite and PostgreSQL
    .venv/bin/python bench/admin_people.py --users 30000 --db sqlite
"""

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import ms, percentile  # noqa: E402

FIRST = (
    "María José Ana Camila Valentina Sofía Javiera Catalina Francisca Constanza Fernanda "
    "Daniela Carolina Paula Isidora Antonia Martina Florencia Ignacia Josefa Juan Pedro "
    "José Luis Carlos Diego Matías Benjamín Vicente Tomás Sebastián Felipe Cristóbal "
    "Joaquín Nicolás Ignacio Gonzalo Rodrigo Andrés Francisco Héctor Raúl Ñelson Íñigo"
).split()
LAST = (
    "González Muñoz Rojas Díaz Pérez Soto Contreras Silva Martínez Sepúlveda Morales "
    "Rodríguez López Fuentes Hernández Torres Araya Flores Espinoza Valenzuela Castillo "
    "Tapia Reyes Gutiérrez Castro Pizarro Álvarez Vásquez Sánchez Fernández Ramírez "
    "Carrasco Gómez Cortés Herrera Núñez Jara Vergara Rivera Figueroa Riquelme Bravo "
    "Olivares Zamorano Quiroz Ñancupil Huenchullán Millalén Aguilera Cáceres"
).split()
TRADES = (
    "Panadería Almacén Ferretería Textiles Artesanías Transportes Servicios Comercial "
    "Inversiones Pastelería Cafetería Turismo Agrícola Maderas Mueblería Estudio Taller"
).split()
PLACES = "del Sur Austral Andina Pacífico Los Ríos La Espiga El Roble Mar Azul Norte Grande"
SEXES = ("femenino", "masculino", "otro", "no_informa")
PAGE = 25
REPEAT = 15


def rut_dv(body: int) -> str:
    total, factor = 0, 2
    for digit in reversed(str(body)):
        total += int(digit) * factor
        factor = 2 if factor == 7 else factor + 1
    rest = 11 - total % 11
    return {11: "0", 10: "K"}.get(rest, str(rest))


def make_app(url: str):
    from sv_platform import create_app

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "bench-" + "x" * 40,
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "TESTING": True,
        }
    )


def generate(count: int, rng: random.Random):
    """People rows, company rows and search-key rows (the keys people.keys_for gives)."""
    from sv_platform.accounts import people, territory

    regions = territory.regions()
    start = datetime(2024, 1, 1, tzinfo=UTC)
    bodies = rng.sample(range(5_000_000, 27_000_000), count * 2)
    users, companies, keys = [], [], []
    for i in range(1, count + 1):
        first, last1, last2 = rng.choice(FIRST), rng.choice(LAST), rng.choice(LAST)
        name = f"{first} {last1} {last2}"
        body = bodies[i - 1]
        rut = f"{body}-{rut_dv(body)}"
        email = f"{people.fold(first)}.{people.fold(last1)}{i}@correo{i % 7}.cl"
        region = rng.choice(regions)
        comuna = rng.choice(region["comunas"])["code"]
        role = "entrepreneur" if i % 500 else ("advisor" if i % 1000 else "admin")
        created = start + timedelta(seconds=i * (3 * 365 * 86400 // count))
        users.append(
            (i, rut, email, name, "!", role, region["code"], comuna, rng.choice(SEXES), created)
        )
        company_rut = company_name = None
        if rng.random() < 0.4:
            cbody = bodies[count + i - 1] % 20_000_000 + 60_000_000
            company_rut = f"{cbody}-{rut_dv(cbody)}"
            company_name = f"{rng.choice(TRADES)} {rng.choice(PLACES.split())} {last1} SpA"
            companies.append((i, company_rut, company_name, region["code"], comuna, created))
        for key in people.keys_for(
            name=name, email=email, rut=rut, company_rut=company_rut, company_name=company_name
        ):
            keys.append((key, i))
    return users, companies, keys


USER_COLUMNS = (
    "id, rut, email, name, password_hash, role, region_code, comuna_code, sex, created_at, "
    "session_version, active"
)


def load_sqlite(engine, users, companies, keys):
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("BEGIN")
        cur.executemany(
            f'INSERT INTO "user" ({USER_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,1,1)',  # noqa: S608
            [(*u[:9], u[9].replace(tzinfo=None).isoformat(sep=" ")) for u in users],
        )
        cur.executemany(
            "INSERT INTO company (user_id, rut, legal_name, region_code, comuna_code, "
            "updated_at) VALUES (?,?,?,?,?,?)",
            [(*c[:5], c[5].replace(tzinfo=None).isoformat(sep=" ")) for c in companies],
        )
        cur.executemany("INSERT INTO person_key (key, user_id) VALUES (?,?)", keys)
        cur.execute("COMMIT")
        cur.execute("ANALYZE")
    finally:
        raw.close()


def load_postgres(engine, users, companies, keys):
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        with cur.copy(f'COPY "user" ({USER_COLUMNS}) FROM STDIN') as copy:
            for u in users:
                copy.write_row((*u[:9], u[9].replace(tzinfo=None), 1, True))
        with cur.copy(
            "COPY company (user_id, rut, legal_name, region_code, comuna_code, updated_at) "
            "FROM STDIN"
        ) as copy:
            for c in companies:
                copy.write_row((*c[:5], c[5].replace(tzinfo=None)))
        with cur.copy("COPY person_key (key, user_id) FROM STDIN") as copy:
            for k in keys:
                copy.write_row(k)
        cur.execute("SELECT setval('user_id_seq', (SELECT max(id) FROM \"user\"))")
        raw.commit()
        cur.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()


def cases(users, companies, rng):
    """The pages an admin opens: (label, query string)."""
    _, rut, email, name, *_ = users[len(users) // 2]
    body, dv = rut.split("-")
    dotted = f"{int(body):,}".replace(",", ".") + f"-{dv}"
    surname = name.split()[1]
    company = companies[len(companies) // 3]
    return [
        ("rut_dotted", {"q": dotted}),
        ("rut_plain", {"q": rut}),
        ("rut_digits_only", {"q": body + dv}),
        ("rut_prefix", {"q": body[:5]}),
        ("name_common_word", {"q": "maria"}),
        ("name_two_words", {"q": f"{name.split()[0]} {surname}"}),
        ("name_rare_surname", {"q": "huenchullan millalen"}),
        ("email_prefix", {"q": email.split("@")[0][:-1]}),
        ("company_rut", {"q": company[1]}),
        ("razon_social", {"q": company[2].split()[0].lower()}),
        ("list_all", {}),
        ("filter_region", {"region": "13"}),
        ("filter_region_sex", {"region": "08", "sexo": "femenino"}),
        ("filter_comuna", {"comuna": users[7][7]}),
        ("filter_role_advisor", {"rol": "advisor"}),
        ("filter_registered_march_2025", {"desde": "2025-03-01", "hasta": "2025-03-31"}),
        ("search_and_filter", {"q": "gonzalez", "region": "13", "sexo": "femenino"}),
    ]


def explain(conn, dialect, statement, params):
    if dialect == "sqlite":
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params).all()
        plan = [r[-1] for r in rows]
        full = [p for p in plan if p.startswith("SCAN ") and "USING" not in p]
    else:
        rows = conn.exec_driver_sql("EXPLAIN " + statement, params).all()
        plan = [r[0].strip() for r in rows]
        full = [p for p in plan if "Seq Scan" in p]
    return plan, full


def run(dialect: str, url: str, count: int, seed: int) -> dict:
    from flask_migrate import upgrade
    from sqlalchemy import event, text

    from sv_platform.extensions import db

    rng = random.Random(seed)
    app = make_app(url)
    with app.app_context():
        upgrade()
        engine = db.engine
    t0 = time.perf_counter()
    users, companies, keys = generate(count, rng)
    generated = time.perf_counter() - t0
    t0 = time.perf_counter()
    (load_sqlite if dialect == "sqlite" else load_postgres)(engine, users, companies, keys)
    loaded = time.perf_counter() - t0
    admin_id = next(u[0] for u in users if u[5] == "admin")
    client = app.test_client()  # every request runs in its own app context, as in production
    with client.session_transaction() as sess:
        sess["_user_id"] = f"{admin_id}:1"
        sess["_fresh"] = True
    results, plans, scans, statements = {}, {}, {}, []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "ORDER BY" in statement and "LIMIT" in statement:
            statements.append((statement, parameters))

    for label, args in cases(users, companies, rng):
        samples = []
        for i in range(REPEAT + 2):
            statements.clear()
            event.listen(engine, "before_cursor_execute", capture)
            start = time.perf_counter()
            response = client.get("/admin/personas", query_string=args)
            elapsed = time.perf_counter() - start
            event.remove(engine, "before_cursor_execute", capture)
            assert response.status_code == 200, (label, response.status_code)
            if i >= 2:  # two warm-up requests
                samples.append(ms(elapsed))
        html = response.get_data(as_text=True)
        with engine.connect() as conn:
            plan, full = explain(conn, dialect, *statements[-1])
        results[label] = {
            "p50_ms": round(percentile(samples, 50), 2),
            "p95_ms": round(percentile(samples, 95), 2),
            "rows_on_page": html.count('<td><a href="/admin/personas/'),
        }
        plans[label] = plan
        if full:
            scans[label] = full
    # keyset pages deep in the list: follow the cursor 40 pages, time each page
    cursor, deep = None, []
    for _ in range(40):
        args = {"region": "13"} | ({"despues": cursor} if cursor else {})
        start = time.perf_counter()
        response = client.get("/admin/personas", query_string=args)
        deep.append(ms(time.perf_counter() - start))
        html = response.get_data(as_text=True)
        cursor = html.split("despues=", 1)[1].split("&", 1)[0].split('"', 1)[0]
    results["keyset_pages_1_to_40_region_13"] = {
        "p50_ms": round(percentile(deep, 50), 2),
        "p95_ms": round(percentile(deep, 95), 2),
    }
    # baseline: an unindexed substring scan of names, the same page depth as page 40
    like = text(
        'SELECT id FROM "user" WHERE lower(name) LIKE :p ORDER BY id DESC LIMIT 26 OFFSET 1000'
    )
    base = []
    with engine.connect() as conn:
        for _ in range(5):
            start = time.perf_counter()
            conn.execute(like, {"p": "%gonzalez%"}).all()
            base.append(ms(time.perf_counter() - start))
    engine.dispose()
    worst = max(r["p95_ms"] for r in results.values())
    return {
        "users": count,
        "companies": len(companies),
        "search_keys": len(keys),
        "generate_s": round(generated, 1),
        "bulk_load_s": round(loaded, 1),
        "pages": results,
        "worst_p95_ms": worst,
        "target_p95_ms": 100,
        "target_met": worst < 100,
        "full_table_scans": scans,
        "baseline_like_scan_ms": round(statistics.median(base), 2),
        "plans": plans,
    }


def postgres_database():
    import psycopg

    name = f"sv_bench_people_{os.getpid()}"
    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop():
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=300_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()
    out = {
        "benchmark": "admin_people",
        "machine": f"{platform.machine()} {os.cpu_count()} CPU, Python {platform.python_version()}",
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{Path(tmp) / 'people.sqlite3'}"
            out["sqlite"] = run("sqlite", url, args.users, args.seed)
    if args.db in ("postgresql", "both"):
        url, drop = postgres_database()
        try:
            out["postgresql"] = run("postgresql", url, args.users, args.seed)
        finally:
            drop()
    for name in ("sqlite", "postgresql"):
        if name in out:
            print(
                f"{name}: worst p95 {out[name]['worst_p95_ms']} ms, "
                f"full scans: {sorted(out[name]['full_table_scans']) or 'none'}",
                file=sys.stderr,
            )
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
