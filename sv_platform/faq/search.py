"""The full-text backends behind `services.search()`: FTS5 on SQLite, tsvector on PostgreSQL.

Both receive the query already normalized into groups of stems (`normalize.alternatives`)
that contain only letters and digits; each stem is still quoted, so no character of what
the user typed can act as full-text syntax.

Ranking has two tiers, on both databases: entries whose question or tags contain every
word come first (ranked by bm25 / ts_rank among themselves), then entries that match only
through their answer. Besides putting question matches first by construction, this keeps
the cost bounded on large indexes: the first tier is small, and the second runs only when
the first did not fill the page.
"""

from sqlalchemy import text

from sv_platform.core.spanish import Form
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


def ranked_ids(
    groups: list[tuple[Form, ...]], *, mode: str = "all", area: str | None = None, limit: int = 20
) -> list[int]:
    """Ids of published entries matching the groups, best first (see the tiers above)."""
    if not groups:
        return []
    if dialect() == "postgresql":
        first = _postgres_ids(tsquery_expression(groups, mode, "AB"), area, limit)
        if len(first) < limit:
            rest = _postgres_ids(tsquery_expression(groups, mode), area, limit + len(first))
    else:
        first = _sqlite_ids(_sqlite_match(groups, mode, area, True), limit)
        if len(first) < limit:
            rest = _sqlite_ids(_sqlite_match(groups, mode, area, False), limit + len(first))
    if len(first) >= limit:
        return first
    seen = set(first)
    return first + [i for i in rest if i not in seen][: limit - len(first)]


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
