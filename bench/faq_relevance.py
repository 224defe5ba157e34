"""FAQ relevance: precision at 1 and mean reciprocal rank of `search()` over the real faq/
content, for the realistic queries of tests/faq/relevance.py (each with the entry a person
would expect first).

    .venv/bin/python bench/faq_relevance.py [--repo PATH]

`--repo` takes the code and content of another checkout (e.g. an older commit, to compare
against a baseline with the same queries). Prints one JSON object last.
"""

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repo", default=str(ROOT), help="checkout whose code and content run")
    args = parser.parse_args()
    repo = Path(args.repo).resolve()
    sys.path.insert(0, str(ROOT))
    from tests.faq.relevance import QUERIES, reciprocal_rank

    sys.path.insert(0, str(repo))
    for name in [m for m in sys.modules if m == "sv_platform" or m.startswith("sv_platform.")]:
        del sys.modules[name]
    from flask_migrate import upgrade

    from sv_platform import create_app
    from sv_platform.faq import services

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/relevance.sqlite3",
                "SECRET_KEY": "bench",
                "TESTING": True,
                "MIGRATIONS_DIR": str(repo / "migrations"),
            }
        )
        with app.app_context():
            upgrade(directory=str(repo / "migrations"))
            services.load_content(repo)
            rows = []
            for query, expected in QUERIES:
                slugs = [hit.entry.slug for hit in services.search(query, limit=10)]
                rows.append((query, reciprocal_rank(slugs, expected), slugs[:3]))
    first = sum(1 for _q, rr, _top in rows if rr == 1.0)
    for query, rr, top in rows:
        if rr < 1.0:
            print(f"  {rr:.2f}  {query!r} → {top}")
    print(
        json.dumps(
            {
                "queries": len(rows),
                "p_at_1": round(first / len(rows), 3),
                "mrr": round(sum(rr for _q, rr, _t in rows) / len(rows), 3),
                "repo": str(repo),
            }
        )
    )


if __name__ == "__main__":
    main()
