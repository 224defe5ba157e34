"""FAQ search latency: `search()` and `GET /api/faq/sugerencias` on 10k and 100k entries.

Builds a throwaway SQLite file with the real migrations, imports the real faq/*.yml, then
bulk-inserts synthetic variations of those entries (their sentences recombined and
sprinkled with words from a vocabulary of thousands of Spanish words: the real content's
words plus derived forms) until the corpus has N entries. For each size it times a mix of
realistic queries (accents missing, plurals, verb forms, several words, typos, FTS syntax)
through `search()` and through the suggestions endpoint (Flask test client), and the same
queries as a plain `LIKE '%word%'` scan of question and answer as the baseline.
Target: p95 of search() under 20 ms at 100k entries. Prints one JSON object last.

    .venv/bin/python bench/faq_search.py            # 10k and 100k entries
    .venv/bin/python bench/faq_search.py --quick    # 1k and 10k entries
"""

import argparse
import json
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

QUERIES = [
    "boleta de honorarios",
    "energia",
    "contratos",
    "contratar trabajador",
    "postulaciones",
    "registrar marca",
    "ley rep",
    "sociedades",
    "iva",
    "factura electronica",
    "inicio de actividades",
    "despido",
    "reciclaje de envases",
    "huella de carbono",
    "cuanto cuesta crear una empresa",
    "fondos sercotec",
    "patente municipal",
    "vacaciones trabajador",
    "termino de giro",
    "spa o eirl",
    "paneles solares",
    "contarto",
    "reciclage",
    "facturasion",
    "derechos del consumidor garantia",
    "datos personales clientes",
    "NEAR(",
    '"',
    "') OR 1=1 --",
    "sello eficiencia energetica",
    "como",
    "certificacion",
    "cotizaciones previsionales",
    "venta por internet",
]
SUFFIXES = [
    "ción",
    "ciones",
    "mente",
    "ado",
    "ada",
    "ados",
    "ando",
    "ista",
    "idad",
    "ería",
    "ero",
    "era",
    "ible",
    "ivo",
    "iva",
    "ar",
    "es",
    "s",
]
PERCENTILES = (50, 95)


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def summary(samples_ms):
    return {f"p{q}_ms": round(percentile(samples_ms, q), 2) for q in PERCENTILES} | {
        "mean_ms": round(statistics.fmean(samples_ms), 2),
        "n": len(samples_ms),
    }


def make_app(path):
    from sv_platform import create_app

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
            "SECRET_KEY": "bench-" + "x" * 40,
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "TESTING": True,
        }
    )


def vocabulary(entries, size, rng):
    """The real content's words plus derived forms, at least `size` distinct words."""
    words = set()
    for e in entries:
        words.update(re.findall(r"[^\W\d_]{3,}", f"{e.question} {e.answer}".lower()))
    base = sorted(words)
    derived = set(base)
    while len(derived) < size:
        root = rng.choice(base)
        derived.add(root[: max(3, len(root) - rng.randint(0, 3))] + rng.choice(SUFFIXES))
    return sorted(derived)


def synthetic_rows(entries, vocab, count, rng, normalize, plain_text):
    """`count` rows varying the real entries: mixed sentences, extra vocabulary words."""
    from sv_platform.core.timeutil import utcnow

    sentences = [[s for s in re.split(r"(?<=[.!?:])\s+", e.answer) if s.strip()] for e in entries]
    now = utcnow()
    for n in range(count):
        source = entries[n % len(entries)]
        other = sentences[rng.randrange(len(entries))]
        answer_parts = rng.sample(
            sentences[n % len(entries)], k=min(4, len(sentences[n % len(entries)]))
        )
        answer_parts += rng.sample(other, k=min(2, len(other)))
        answer_parts.append(" ".join(rng.choice(vocab) for _ in range(rng.randint(8, 20))) + ".")
        answer = " ".join(answer_parts)
        extra = " ".join(rng.choice(vocab) for _ in range(rng.randint(1, 3)))
        question = f"{source.question.rstrip('?')} {extra}?"[:300]
        tags = list(source.tags or [])
        yield {
            "slug": f"sintetica-{n}",
            "question": question,
            "answer": answer,
            "area": source.area,
            "tags": tags,
            "published": rng.random() > 0.03,
            "source_consultation_id": None,
            "view_count": rng.randint(0, 500),
            "helpful_count": 0,
            "not_helpful_count": 0,
            "question_norm": normalize(question),
            "tags_norm": normalize(" ".join(tags)),
            "answer_norm": normalize(plain_text(answer)),
            "created_at": now,
            "updated_at": now,
        }


def like_baseline(db, text, query):
    """The naive alternative: every word as LIKE '%word%' over question and answer."""
    words = [w for w in re.findall(r"[^\W_]+", query.lower()) if len(w) > 2][:12]
    if not words:
        return []
    clauses = " AND ".join(f"(question LIKE :w{i} OR answer LIKE :w{i})" for i in range(len(words)))
    params = {f"w{i}": f"%{w}%" for i, w in enumerate(words)}
    sql = f"SELECT id FROM faq_entry WHERE published = 1 AND {clauses} LIMIT 20"  # noqa: S608
    return db.session.execute(text(sql), params).all()


def run_size(size, rounds, seed):
    from flask_migrate import upgrade
    from sqlalchemy import func, insert, select, text

    from sv_platform.core.spanish import normalize
    from sv_platform.extensions import db
    from sv_platform.faq import highlight, services
    from sv_platform.faq.models import FaqEntry

    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="faq-bench-") as tmp:
        path = Path(tmp) / "bench.sqlite3"
        app = make_app(path)
        with app.app_context():
            upgrade(revision="heads")
            services.load_content(ROOT)
            entries = list(db.session.scalars(select(FaqEntry)))
            vocab = vocabulary(entries, 6000, rng)
            started = time.perf_counter()
            rows = synthetic_rows(
                entries, vocab, size - len(entries), rng, normalize, highlight.plain_text
            )
            batch = []
            for row in rows:
                batch.append(row)
                if len(batch) == 5000:
                    db.session.execute(insert(FaqEntry), batch)
                    batch = []
            if batch:
                db.session.execute(insert(FaqEntry), batch)
            services.rebuild_vocabulary()
            db.session.commit()
            db.session.execute(text("INSERT INTO faq_fts(faq_fts) VALUES ('optimize')"))
            db.session.commit()
            db.session.execute(text("PRAGMA optimize"))
            build_s = time.perf_counter() - started
            total = db.session.scalar(select(func.count()).select_from(FaqEntry))

            client = app.test_client()
            timings = {"search": [], "suggestions_api": [], "like_baseline": []}
            found = {"search": 0, "like_baseline": 0}
            for query in QUERIES:  # warm-up (page cache, stem cache)
                services.search(query)
            for _ in range(rounds):
                for query in QUERIES:
                    t0 = time.perf_counter()
                    results = services.search(query)
                    timings["search"].append((time.perf_counter() - t0) * 1000)
                    found["search"] += bool(results.hits)
                    db.session.rollback()

                    t0 = time.perf_counter()
                    response = client.get("/api/faq/sugerencias", query_string={"q": query})
                    timings["suggestions_api"].append((time.perf_counter() - t0) * 1000)
                    assert response.status_code == 200, response.status_code

                    t0 = time.perf_counter()
                    hits = like_baseline(db, text, query)
                    timings["like_baseline"].append((time.perf_counter() - t0) * 1000)
                    found["like_baseline"] += bool(hits)
                    db.session.rollback()
            size_mb = path.stat().st_size / 1e6
            db.session.remove()
            db.engine.dispose()
    n = rounds * len(QUERIES)
    return {
        "entries": total,
        "build_s": round(build_s, 1),
        "db_mb": round(size_mb, 1),
        **{name: summary(values) for name, values in timings.items()},
        "queries_with_results": {k: round(v / n, 3) for k, v in found.items()},
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1k and 10k entries")
    parser.add_argument("--sizes", default=None, help="comma-separated sizes (override)")
    parser.add_argument("--rounds", type=int, default=None, help="passes over the queries")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    sizes = (
        [int(s) for s in args.sizes.split(",")]
        if args.sizes
        else [1_000, 10_000]
        if args.quick
        else [10_000, 100_000]
    )
    rounds = args.rounds or (5 if args.quick else 8)
    os.environ.setdefault("SV_ENV", "development")
    report = {
        "benchmark": "faq_search",
        "machine": f"{platform.machine()}, "
        f"{os.cpu_count()} cpu, Python {platform.python_version()}, "
        f"SQLite {__import__('sqlite3').sqlite_version}",
        "queries": len(QUERIES),
        "rounds": rounds,
        "target_p95_ms": 20,
        "sizes": {},
    }
    for size in sizes:
        result = run_size(size, rounds, args.seed)
        report["sizes"][str(size)] = result
        print(
            f"{size:>7} entries (built in {result['build_s']} s, {result['db_mb']} MB): "
            f"search p50 {result['search']['p50_ms']} ms, p95 {result['search']['p95_ms']} ms"
            f" | API p95 {result['suggestions_api']['p95_ms']} ms"
            f" | LIKE p50 {result['like_baseline']['p50_ms']} ms, "
            f"p95 {result['like_baseline']['p95_ms']} ms",
            flush=True,
        )
    largest = report["sizes"][str(max(sizes))]
    report["target_met"] = largest["search"]["p95_ms"] < 20
    print(json.dumps(report, ensure_ascii=False))


if __name__ == "__main__":
    main()
