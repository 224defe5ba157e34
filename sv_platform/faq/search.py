"""The full-text backends behind `services.search()`: FTS5 on SQLite, tsvector on PostgreSQL.

Both receive the query already normalized into groups of stems (`normalize.alternatives`)
that contain only letters and digits; each stem is still quoted, so no character of what
the user typed can act as full-text syntax.

Ranking has two tiers, on both databases: entries whose question or tags contain every
word come first, then entries that match only through their answer. Besides putting
question matches first by construction, this keeps the cost bounded on large indexes: the
first tier is small, and the second runs only when the first did not fill the page.

Within a tier each engine picks its best CANDIDATES (bm25 / ts_rank), and one scoring in
Python orders them, so SQLite and PostgreSQL give the same results for the same content
whenever a tier has no more than CANDIDATES matches.
"""

from sqlalchemy import select, text

from sv_platform.core.spanish import Form, stem_matches
from sv_platform.extensions import db

# bm25() weights per FTS5 column: question_norm, tags_norm, answer_norm, facets.
SQLITE_WEIGHTS = "10.0, 4.0, 1.0, 0.0"
# ts_rank() weights for D, C (answer), B (tags), A (question).
POSTGRES_WEIGHTS = "{0.05, 0.2, 0.4, 1.0}"


def dialect() -> str:
    return db.session.get_bind().dialect.name


def _fts5_term(form: Form) -> str:
    word, prefix = form
    quoted = '"' + word.replace('"', '""') + '"'
    return quoted + "*" if prefix else quoted


def _tsquery_term(form: Form, weights: str = "") -> str:
    word, prefix = form
    quoted = "'" + word.replace("\\", "").replace("'", "''") + "'"
    suffix = ("*" if prefix else "") + weights
    return quoted + (":" + suffix if suffix else "")


def fts5_expression(groups: list[tuple[Form, ...]], mode: str = "all") -> str:
    """`("sociedad"* OR "socied") AND "iva"*`: one group per query word."""
    parts = ["(" + " OR ".join(_fts5_term(f) for f in group) + ")" for group in groups]
    return (" AND " if mode == "all" else " OR ").join(parts)


def tsquery_expression(groups: list[tuple[Form, ...]], mode: str = "all", weights: str = "") -> str:
    """`('sociedad':* | 'socied') & 'iva':*` for to_tsquery('simple', …); `weights="AB"`
    restricts every lexeme to the question and tags."""
    parts = ["(" + " | ".join(_tsquery_term(f, weights) for f in group) + ")" for group in groups]
    return (" & " if mode == "all" else " | ").join(parts)


def _sqlite_match(groups, mode, area, question_only: bool) -> str:
    expression = fts5_expression(groups, mode)
    if question_only:
        expression = "{question_norm tags_norm} : (" + expression + ")"
    if area:
        expression = f'({expression}) AND facets : "area' + area.replace('"', "") + '"'
    return f'({expression}) NOT facets : "borrador"'


def _sqlite_ids(match: str, limit: int) -> list[int]:
    sql = (
        f"SELECT rowid FROM faq_fts WHERE faq_fts MATCH :q "  # noqa: S608 - constants
        f"ORDER BY bm25(faq_fts, {SQLITE_WEIGHTS}), rowid LIMIT :limit"
    )
    return list(db.session.execute(text(sql), {"q": match, "limit": limit}).scalars())


def _postgres_ids(query: str, area: str | None, limit: int) -> list[int]:
    area_sql = " AND e.area = :area" if area else ""
    sql = (
        "SELECT e.id FROM faq_entry e, to_tsquery('simple', :q) query "  # noqa: S608
        "WHERE e.search_vector @@ query AND e.published"
        + area_sql
        + f" ORDER BY ts_rank('{POSTGRES_WEIGHTS}'::float4[], e.search_vector, query) DESC,"
        " e.id LIMIT :limit"
    )
    params = {"q": query, "area": area, "limit": limit}
    return list(db.session.execute(text(sql), params).scalars())


CANDIDATES = 60
# (field, weight, typical length in stems): a BM25-style score over the normalized text.
FIELDS = (("question_norm", 10.0, 6.0), ("tags_norm", 4.0, 3.0), ("answer_norm", 1.0, 40.0))
BM25_K1, BM25_B = 1.2, 0.75


def _score(texts: tuple[str, ...], groups: list[tuple[Form, ...]]) -> float:
    """The shared relevance of one entry: for each query word, its weighted, saturated and
    length-normalized frequency in the question, the tags and the answer."""
    total = 0.0
    fields = [
        (value.split(), weight, typical)
        for value, (_, weight, typical) in zip(texts, FIELDS, strict=True)
    ]
    for group in groups:
        for tokens, weight, typical in fields:
            freq = sum(1 for token in tokens if stem_matches(token, group))
            if freq:
                norm = 1 - BM25_B + BM25_B * len(tokens) / typical
                total += weight * freq * (BM25_K1 + 1) / (freq + BM25_K1 * norm)
    return total


def _rerank(ids: list[int], groups: list[tuple[Form, ...]]) -> list[int]:
    """Order an engine's candidates by the shared score (ties by id)."""
    if len(ids) < 2:
        return ids
    from sv_platform.faq.models import FaqEntry

    columns = [getattr(FaqEntry, name) for name, _, _ in FIELDS]
    rows = db.session.execute(select(FaqEntry.id, *columns).where(FaqEntry.id.in_(ids))).all()
    scores = {row[0]: _score(tuple(value or "" for value in row[1:]), groups) for row in rows}
    return sorted(ids, key=lambda i: (-round(scores.get(i, 0.0), 9), i))


def ranked_ids(
    groups: list[tuple[Form, ...]], *, mode: str = "all", area: str | None = None, limit: int = 20
) -> list[int]:
    """Ids of published entries matching the groups, best first (see the tiers above)."""
    if not groups:
        return []
    pool = max(limit, CANDIDATES)
    if dialect() == "postgresql":
        first = _postgres_ids(tsquery_expression(groups, mode, "AB"), area, pool)
        if len(first) < limit:
            rest = _postgres_ids(tsquery_expression(groups, mode), area, pool + len(first))
    else:
        first = _sqlite_ids(_sqlite_match(groups, mode, area, True), pool)
        if len(first) < limit:
            rest = _sqlite_ids(_sqlite_match(groups, mode, area, False), pool + len(first))
    first = _rerank(first, groups)
    if len(first) >= limit:
        return first[:limit]
    seen = set(first)
    rest = _rerank([i for i in rest if i not in seen], groups)
    return first + rest[: limit - len(first)]


def has_match(group: tuple[Form, ...]) -> bool:
    """Does any published entry contain one of these forms?"""
    if dialect() == "postgresql":
        sql = (
            "SELECT 1 FROM faq_entry WHERE published AND "
            "search_vector @@ to_tsquery('simple', :q) LIMIT 1"
        )
        query = tsquery_expression([group])
    else:
        sql = "SELECT 1 FROM faq_fts WHERE faq_fts MATCH :q LIMIT 1"
        query = _sqlite_match([group], "all", None, False)
    return db.session.execute(text(sql), {"q": query}).first() is not None


def vocabulary() -> list[str]:
    """Every word of the published content that can be offered as a typo correction."""
    return list(db.session.execute(text("SELECT term FROM faq_term")).scalars())


def add_terms(terms: set[str]) -> None:
    """Add words to the vocabulary (existing ones are left alone). The caller commits."""
    terms = {t for t in terms if t and len(t) <= 80}
    if not terms:
        return
    if dialect() == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    from sv_platform.faq.models import FaqTerm

    db.session.execute(
        insert(FaqTerm).on_conflict_do_nothing(), [{"term": t} for t in sorted(terms)]
    )


def replace_terms(terms: set[str]) -> None:
    """Make the vocabulary exactly `terms`. The caller commits."""
    db.session.execute(text("DELETE FROM faq_term"))
    add_terms(terms)
