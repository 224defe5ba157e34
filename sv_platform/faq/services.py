"""FAQ rules: search and suggestions, views and votes, editing, and the content import."""

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import yaml
from flask import current_app
from markupsafe import Markup
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from sv_platform.accounts.signals import data_exported, user_anonymized
from sv_platform.core import throttle
from sv_platform.core.content_review import (
    SOURCES_MESSAGE,
    read_sources,
    review_date,
    review_problems,
)
from sv_platform.core.domain import DomainError, InvalidInput, NotFound
from sv_platform.core.formatting import plural
from sv_platform.core.spanish import (
    STOPWORDS,
    Form,
    alternatives,
    normalize,
    query_terms,
    stem,
    words,
)
from sv_platform.core.timeutil import utcnow
from sv_platform.extensions import db, write_transaction
from sv_platform.faq import highlight, spelling
from sv_platform.faq import search as backend
from sv_platform.faq.models import AREAS, FaqEntry, FaqVote

SEARCH_LIMIT = 20
SUGGEST_LIMIT = 5
QUESTION_MIN, QUESTION_MAX = 8, 300
ANSWER_MAX = 20_000
TAGS_MAX, TAG_MAX_CHARS = 15, 60
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class EntryNotFound(NotFound):
    message = "No encontramos esa pregunta frecuente."


class InvalidEntry(InvalidInput):
    message = "Revisa los datos de la pregunta frecuente."


class InvalidContent(InvalidInput):
    message = "Los archivos de preguntas frecuentes tienen errores; no se cargó nada."


# --- search ----------------------------------------------------------------------------


@dataclass
class SearchHit:
    entry: FaqEntry
    question_html: Markup
    snippet_html: Markup
    snippet: str


@dataclass
class SearchResults:
    """What a search found. `corrected` is set when typos were corrected ("Mostrando
    resultados para …"); `partial` when no entry had every word and the hits contain some."""

    query: str
    terms: list[str]
    hits: list[SearchHit] = field(default_factory=list)
    corrected: str | None = None
    partial: bool = False

    def __iter__(self):
        return iter(self.hits)

    def __len__(self) -> int:
        return len(self.hits)

    @property
    def empty_query(self) -> bool:
        return not self.terms


def search(query: str | None, area: str | None = None, limit: int = SEARCH_LIMIT) -> SearchResults:
    """Published entries matching `query`, most relevant first.

    Rule: accent-, case- and inflection-insensitive (stems, prefix matching). Entries with
    every word come first (bm25 / ts_rank, question above answer), then entries with some
    of the words, those with more of them (and in the question) first. A word that matches
    nothing and is not a Spanish word is corrected to the closest word of the published
    content. Any input is accepted (empty, huge, punctuation, full-text syntax): it never
    raises.
    """
    query = (query or "").strip()
    area = area if area in AREAS else None
    limit = max(1, min(int(limit or SEARCH_LIMIT), 50))
    results = SearchResults(query=query, terms=query_terms(query))
    if not results.terms:
        return results
    corrected = _corrected_query(query)
    if corrected is not None:
        query_used = corrected
        results.terms = query_terms(corrected)
    else:
        query_used = query
    groups = [_loosened(alternatives(t)) for t in results.terms]
    ids = backend.ranked_ids(groups, area=area, limit=limit)
    if len(ids) < limit and len(groups) > 1:
        some = backend.ranked_ids(groups, mode="any", area=area, limit=limit * 2)
        rest = [i for i in some if i not in set(ids)]
        results.partial = not ids and bool(rest)
        ids = ids + [e.id for e in _by_coverage(_entries(rest), groups)][: limit - len(ids)]
    results.hits = [_hit(entry, groups) for entry in _entries(ids)]
    if corrected is not None and results.hits:
        results.corrected = query_used
    return results


def _loosened(group: tuple[Form, ...]) -> tuple[Form, ...]:
    """A long word that matches nothing is searched by a shorter prefix of its stem too,
    so "reciclaje" finds "reciclo" and "reciclar" (same root, another suffix)."""
    term = group[0][0]
    if len(term) < 7 or backend.has_match(group):
        return group
    return (*group, (term[:-2], True))


def _entries(ids: list[int]) -> list[FaqEntry]:
    """The entries with these ids, in that order."""
    if not ids:
        return []
    found = {e.id: e for e in db.session.scalars(select(FaqEntry).where(FaqEntry.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


def suggest(query: str | None, area: str | None = None, limit: int = SUGGEST_LIMIT) -> list[dict]:
    """Top entries for search-as-you-type and for the new-consulta form:
    `[{id, question, url, snippet}]` in plain text (callers escape them). Never raises."""
    limit = max(1, min(int(limit or SUGGEST_LIMIT), 10))
    return [
        {
            "id": hit.entry.id,
            "question": hit.entry.question,
            "url": entry_url(hit.entry),
            "snippet": hit.snippet,
        }
        for hit in search(query, area=area, limit=limit)
    ]


def _by_coverage(entries: list[FaqEntry], groups: list[tuple[Form, ...]]) -> list[FaqEntry]:
    """Entries matching more of the query's words first (the backend order breaks ties),
    each word counting double when it is in the question."""

    def score(entry: FaqEntry) -> int:
        question = set(entry.question_norm.split())
        rest = set(f"{entry.tags_norm} {entry.answer_norm}".split())
        total = 0
        for group in groups:
            if _stems_match(question, group):
                total += 2
            elif _stems_match(rest, group):
                total += 1
        return total

    return sorted(entries, key=score, reverse=True)  # stable: keeps relevance order on ties


def _stems_match(stems: set[str], group: tuple[Form, ...]) -> bool:
    return any(
        form in stems or (prefix and any(s.startswith(form) for s in stems))
        for form, prefix in group
    )


def _corrected_query(query: str) -> str | None:
    """The query with its typos corrected (lower case, function words dropped), or None
    when every word is known: found in the content, or a real Spanish word."""
    shown, changed, vocabulary = [], False, None
    for word in words(query[:200]):
        if word in STOPWORDS:
            continue
        if (
            len(word) < spelling.MIN_LENGTH
            or word.isdigit()
            or backend.has_match(alternatives(stem(word)))
            or spelling.is_spanish(word)
        ):
            shown.append(word)
            continue
        if vocabulary is None:
            vocabulary = backend.vocabulary()
        best = spelling.closest(word, vocabulary)
        if best and best != word:
            shown.append(best)
            changed = True
        else:
            shown.append(word)
    return " ".join(shown) if changed else None


def _hit(entry: FaqEntry, groups: list[tuple[Form, ...]]) -> SearchHit:
    snippet = highlight.snippet(highlight.plain_text(entry.answer), groups)
    return SearchHit(
        entry=entry,
        question_html=highlight.highlight(entry.question, groups),
        snippet_html=highlight.highlight(snippet, groups),
        snippet=snippet,
    )


# --- reading, views and votes ----------------------------------------------------------


def entry_url(entry: FaqEntry) -> str:
    """The public path of a FAQ entry."""
    from flask import url_for

    try:
        return url_for("faq.entry", entry_id=entry.id, slug=entry.slug)
    except RuntimeError:  # outside a request and without SERVER_NAME
        return f"/preguntas-frecuentes/{entry.id}-{entry.slug}"


def get_entry(entry_id: int, *, include_unpublished: bool = False) -> FaqEntry:
    """The entry; raises EntryNotFound when missing or unpublished (unless asked)."""
    entry = db.session.get(FaqEntry, entry_id)
    if entry is None or (not entry.published and not include_unpublished):
        raise EntryNotFound()
    return entry


def most_viewed(limit: int = 5, area: str | None = None) -> list[FaqEntry]:
    """Published entries with the most views (at least one)."""
    stmt = select(FaqEntry).where(FaqEntry.published.is_(True), FaqEntry.view_count > 0)
    if area in AREAS:
        stmt = stmt.where(FaqEntry.area == area)
    stmt = stmt.order_by(FaqEntry.view_count.desc(), FaqEntry.id).limit(limit)
    return list(db.session.scalars(stmt))


def related(entry: FaqEntry, limit: int = 3) -> list[FaqEntry]:
    """Other published entries of the same area sharing the most words with this question."""
    groups = highlight.search_groups(entry.question)
    ids = [
        i
        for i in backend.ranked_ids(groups, mode="any", area=entry.area, limit=30)
        if i != entry.id
    ]
    if not ids:
        return []
    found = {e.id: e for e in db.session.scalars(select(FaqEntry).where(FaqEntry.id.in_(ids)))}
    return _by_coverage([found[i] for i in ids if i in found], groups)[:limit]


def published_entries(area: str | None = None) -> list[FaqEntry]:
    """Every published entry (of an area), by area then question."""
    stmt = select(FaqEntry).where(FaqEntry.published.is_(True))
    if area in AREAS:
        stmt = stmt.where(FaqEntry.area == area)
    return list(db.session.scalars(stmt.order_by(FaqEntry.area, FaqEntry.question)))


def record_view(entry_id: int) -> None:
    """Count one view of a published entry (an atomic increment, safe under concurrency)."""
    with write_transaction() as session:
        session.execute(
            update(FaqEntry)
            .where(FaqEntry.id == entry_id, FaqEntry.published.is_(True))
            .values(view_count=FaqEntry.view_count + 1, updated_at=FaqEntry.updated_at)
            .execution_options(synchronize_session=False)
        )
        session.commit()


def new_session_key() -> str:
    """A random key identifying an anonymous visitor's votes (kept in their session)."""
    return secrets.token_urlsafe(24)


def current_vote(
    entry_id: int, *, user_id: int | None = None, session_key: str | None = None
) -> bool | None:
    """The voter's answer to "¿Te sirvió?" for this entry, or None."""
    vote = _find_vote(entry_id, user_id, session_key)
    return None if vote is None else vote.helpful


def _find_vote(entry_id, user_id, session_key) -> FaqVote | None:
    if user_id is not None:
        condition = FaqVote.user_id == user_id
    elif session_key:
        condition = (FaqVote.session_key == session_key) & FaqVote.user_id.is_(None)
    else:
        return None
    return db.session.scalar(select(FaqVote).where(FaqVote.entry_id == entry_id, condition))


class VoteLimited(DomainError):
    code = "rate_limited"
    status = 429
    message = (
        "Ya recibimos muchas respuestas a esta pregunta desde tu conexión. Ingresa con tu "
        "cuenta para dar la tuya."
    )


def vote(
    entry_id: int,
    helpful: bool,
    *,
    user_id: int | None = None,
    session_key: str | None = None,
    address: str | None = None,
    now: datetime | None = None,
) -> FaqEntry:
    """Record "¿Te sirvió?": one vote per entry per user (or per anonymous session key).
    Voting again with the other answer changes the vote; the same answer changes nothing.
    A new anonymous vote also counts against FAQ_ANONYMOUS_VOTE_LIMIT per entry and
    address (`address`), so fresh cookies cannot add votes without end. Raises
    EntryNotFound (missing or unpublished entry), InvalidInput (no voter), VoteLimited."""
    if user_id is None and not session_key:
        raise InvalidInput("No pudimos registrar tu voto. Recarga la página e inténtalo de nuevo.")
    now = now or utcnow()
    helpful = bool(helpful)
    with write_transaction() as session:
        entry = get_entry(entry_id)
        existing = _find_vote(entry_id, user_id, session_key)
        if existing is None and user_id is None:
            rate = current_app.config.get("FAQ_ANONYMOUS_VOTE_LIMIT", "5 per day")
            if not throttle.hit(rate, "faq-vote", str(entry_id), address or "-"):
                session.rollback()
                raise VoteLimited()
        if existing is None:
            session.add(
                FaqVote(
                    entry_id=entry_id,
                    user_id=user_id,
                    session_key=None if user_id is not None else session_key,
                    helpful=helpful,
                    created_at=now,
                    updated_at=now,
                )
            )
            delta = {"helpful": 1 if helpful else 0, "not_helpful": 0 if helpful else 1}
        elif existing.helpful != helpful:
            existing.helpful = helpful
            existing.updated_at = now
            delta = {"helpful": 1 if helpful else -1, "not_helpful": -1 if helpful else 1}
        else:
            session.commit()
            return entry
        session.execute(
            update(FaqEntry)
            .where(FaqEntry.id == entry_id)
            .values(
                helpful_count=FaqEntry.helpful_count + delta["helpful"],
                not_helpful_count=FaqEntry.not_helpful_count + delta["not_helpful"],
                updated_at=FaqEntry.updated_at,
            )
            .execution_options(synchronize_session=False)
        )
        session.commit()
    db.session.refresh(entry)
    return entry


# --- editing ---------------------------------------------------------------------------


def slugify(text: str) -> str:
    """A URL slug from a question: ascii, lower case, hyphens."""
    slug = "-".join(words(text))[:80].strip("-")
    return slug or "pregunta"


def _valid_slug(slug) -> bool:
    return isinstance(slug, str) and len(slug) <= 120 and bool(SLUG_RE.match(slug))


def _unique_slug(base: str, *, exclude_id: int | None = None) -> str:
    slug, n = base, 1
    while True:
        stmt = select(FaqEntry.id).where(FaqEntry.slug == slug)
        if exclude_id is not None:
            stmt = stmt.where(FaqEntry.id != exclude_id)
        if db.session.scalar(stmt) is None:
            return slug
        n += 1
        slug = f"{base[:75]}-{n}"


def _clean_tags(tags) -> list[str]:
    if isinstance(tags, str):
        tags = tags.split(",")
    cleaned: list[str] = []
    for tag in tags or ():
        if not isinstance(tag, str | int | float):
            raise InvalidEntry("Cada etiqueta debe ser un texto.", field="tags")
        tag = " ".join(str(tag).split())
        if not tag:
            continue
        if len(tag) > TAG_MAX_CHARS:
            raise InvalidEntry(
                f"Cada etiqueta puede tener hasta {TAG_MAX_CHARS} caracteres.", field="tags"
            )
        if tag.lower() not in (t.lower() for t in cleaned):
            cleaned.append(tag)
    if len(cleaned) > TAGS_MAX:
        raise InvalidEntry(f"Usa como máximo {TAGS_MAX} etiquetas.", field="tags")
    return cleaned


def _clean(question, answer, area, tags) -> tuple[str, str, str, list[str]]:
    question = " ".join((question or "").split()) if isinstance(question, str) else ""
    answer = (answer or "").strip() if isinstance(answer, str) else ""
    if len(question) < QUESTION_MIN:
        raise InvalidEntry("Escribe la pregunta (al menos 8 caracteres).", field="question")
    if len(question) > QUESTION_MAX:
        raise InvalidEntry(
            f"La pregunta puede tener hasta {QUESTION_MAX} caracteres.", field="question"
        )
    if not answer:
        raise InvalidEntry("Escribe la respuesta.", field="answer")
    if len(answer) > ANSWER_MAX:
        raise InvalidEntry(
            f"La respuesta puede tener hasta {ANSWER_MAX:,} caracteres.".replace(",", "."),
            field="answer",
        )
    if area not in AREAS:
        raise InvalidEntry("Elige un área: legal, sustentabilidad o general.", field="area")
    return question, answer, area, _clean_tags(tags)


def _apply(entry: FaqEntry, question, answer, area, tags) -> None:
    entry.question, entry.answer, entry.area, entry.tags = question, answer, area, tags
    entry.question_norm = normalize(question)
    entry.tags_norm = normalize(" ".join(tags))
    entry.answer_norm = normalize(highlight.plain_text(answer))


def _entry_terms(entry: FaqEntry) -> set[str]:
    """The entry's words offered as typo corrections (only published entries count)."""
    if not entry.published:
        return set()
    text = f"{entry.question} {' '.join(entry.tags or [])} {highlight.plain_text(entry.answer)}"
    return spelling.content_words(text)


def _snapshot(entry: FaqEntry) -> dict:
    return {
        "slug": entry.slug,
        "question": entry.question,
        "answer": entry.answer,
        "area": entry.area,
        "tags": list(entry.tags or []),
        "published": entry.published,
        "source_consultation_id": entry.source_consultation_id,
    }


def _audit(actor, action, entry, before, after) -> None:
    from sv_platform.accounts.services import record_audit

    record_audit(actor, action, "faq_entry", entry.id, before, after, commit=False)


def create_entry(
    *,
    question: str,
    answer: str,
    area: str,
    tags=(),
    published: bool = False,
    source_consultation_id: int | None = None,
    proposed_by_id: int | None = None,
    slug: str | None = None,
    actor=None,
    now: datetime | None = None,
) -> FaqEntry:
    """Create an entry (any staff member may draft one; `actor` is recorded in the audit
    log). The slug comes from the question when not given and is made unique.
    Raises InvalidEntry with the offending field."""
    question, answer, area, tags = _clean(question, answer, area, tags)
    if slug:
        slug = slug.strip().lower()
        if not _valid_slug(slug):
            raise InvalidEntry(
                "El identificador solo puede tener minúsculas, números y guiones.", field="slug"
            )
        if db.session.scalar(select(FaqEntry.id).where(FaqEntry.slug == slug)):
            raise InvalidEntry("Ya existe una pregunta con ese identificador.", field="slug")
    else:
        slug = _unique_slug(slugify(question))
    now = now or utcnow()
    entry = FaqEntry(
        slug=slug,
        published=bool(published),
        created_at=now,
        updated_at=now,
        source_consultation_id=source_consultation_id,
        proposed_by_id=proposed_by_id,
    )
    if proposed_by_id is not None:
        entry.published = False  # a proposal waits for a second person's approval
    _apply(entry, question, answer, area, tags)
    db.session.add(entry)
    try:
        db.session.flush()
        backend.add_terms(_entry_terms(entry))
        _audit(actor, "faq.create", entry, None, _snapshot(entry))
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise InvalidEntry("Ya existe una pregunta con ese identificador.", field="slug") from exc
    return entry


_UNSET = object()


def update_entry(
    entry_id: int,
    *,
    question=_UNSET,
    answer=_UNSET,
    area=_UNSET,
    tags=_UNSET,
    published=_UNSET,
    source_consultation_id=_UNSET,
    actor=None,
    now: datetime | None = None,
) -> FaqEntry:
    """Change the given fields of an entry (others stay); the search index follows at once.
    Raises EntryNotFound or InvalidEntry."""
    entry = get_entry(entry_id, include_unpublished=True)
    before = _snapshot(entry)
    values = _clean(
        entry.question if question is _UNSET else question,
        entry.answer if answer is _UNSET else answer,
        entry.area if area is _UNSET else area,
        entry.tags if tags is _UNSET else tags,
    )
    _apply(entry, *values)
    if published is not _UNSET:
        if published and entry.awaiting_approval:
            _check_approver(entry, actor)
            entry.approved_by_id = actor.id
        entry.published = bool(published)
    if source_consultation_id is not _UNSET:
        entry.source_consultation_id = source_consultation_id
    after = _snapshot(entry)
    if after == before:
        db.session.rollback()
        return entry
    entry.updated_at = now or utcnow()
    backend.add_terms(_entry_terms(entry))
    _audit(actor, "faq.update", entry, before, after)
    db.session.commit()
    return entry


class ApprovalNeeded(DomainError):
    code = "forbidden"
    status = 403
    message = (
        "Otra persona debe aprobar esta pregunta frecuente: un asesor/a del área o un "
        "administrador/a."
    )


def _check_approver(entry: FaqEntry, actor) -> None:
    """Rule: an entry drafted from a consulta is published by a second person, never by
    the one who proposed it: another advisor of its area or an admin. Raises
    ApprovalNeeded."""
    if actor is None or actor.id == entry.proposed_by_id:
        raise ApprovalNeeded()
    if actor.role == "admin":
        return
    if actor.role == "advisor" and actor.specialty == entry.area:
        return
    raise ApprovalNeeded()


def pending_approval(user) -> list[FaqEntry]:
    """Proposals from consultas waiting for approval that `user` may approve (admins:
    every area; advisors: their own area), oldest first, their own proposals excluded."""
    stmt = select(FaqEntry).where(
        FaqEntry.proposed_by_id.is_not(None),
        FaqEntry.approved_by_id.is_(None),
        FaqEntry.proposed_by_id != user.id,
    )
    if user.role != "admin":
        stmt = stmt.where(FaqEntry.area == user.specialty)
    return list(db.session.scalars(stmt.order_by(FaqEntry.id)))


def approve_entry(entry_id: int, approver, *, now: datetime | None = None) -> FaqEntry:
    """A second person approves a proposal drafted from a consulta: it is published.
    Raises EntryNotFound, ApprovalNeeded (the proposer, another area's advisor)."""
    entry = get_entry(entry_id, include_unpublished=True)
    if not entry.awaiting_approval:
        raise EntryNotFound()
    return update_entry(entry_id, published=True, actor=approver, now=now)


def set_published(entry_id: int, published: bool, *, actor=None) -> FaqEntry:
    """Publish or unpublish an entry (unpublished entries never appear to the public)."""
    return update_entry(entry_id, published=published, actor=actor)


def delete_entry(entry_id: int, *, actor=None) -> None:
    """Delete an entry and its votes; it leaves the search index at once."""
    entry = get_entry(entry_id, include_unpublished=True)
    _audit(actor, "faq.delete", entry, _snapshot(entry), None)
    db.session.execute(delete(FaqVote).where(FaqVote.entry_id == entry_id))
    db.session.delete(entry)
    db.session.commit()


def counts() -> dict:
    """Entries per state, for the admin list."""
    rows = db.session.execute(
        select(FaqEntry.published, func.count()).group_by(FaqEntry.published)
    ).all()
    by_state = {bool(published): n for published, n in rows}
    return {"published": by_state.get(True, 0), "drafts": by_state.get(False, 0)}


# --- content import --------------------------------------------------------------------

REQUIRED_KEYS = ("slug", "question", "area", "tags", "answer")


def _entry_lines(text: str) -> list[int]:
    """Line (1-based) where each top-level list item starts, for messages."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return []
    if not isinstance(node, yaml.SequenceNode):
        return []
    return [item.start_mark.line + 1 for item in node.value]


def _read_content(folder: Path) -> list[dict]:
    """Parse and validate every faq/*.yml; raise InvalidContent naming file and entry.
    Every entry says when its facts were checked (`revisado: AAAA-MM-DD`) and may list the
    official pages behind them (`fuentes`, deep https links)."""
    entries, seen = [], {}
    for path in sorted(folder.glob("*.yml")) + sorted(folder.glob("*.yaml")):
        name = f"{folder.name}/{path.name}"
        try:
            text = path.read_text(encoding="utf-8")
            data = yaml.safe_load(text)
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (línea {mark.line + 1})" if mark else ""
            raise InvalidContent(f"{name}{where}: el archivo no es YAML válido.") from exc
        if data is None:
            continue
        if not isinstance(data, list):
            raise InvalidContent(f"{name}: debe ser una lista de preguntas.")
        lines = _entry_lines(text)
        for index, item in enumerate(data, start=1):
            line = lines[index - 1] if index <= len(lines) else None
            label = f"{name}, entrada {index}"
            if not isinstance(item, dict):
                raise InvalidContent(f"{label}: debe tener slug, question, area, tags y answer.")
            missing = [k for k in REQUIRED_KEYS if k not in item]
            if missing:
                raise InvalidContent(f"{label}: falta {', '.join(missing)}.")
            slug = item["slug"]
            if not _valid_slug(slug):
                raise InvalidContent(
                    f"{label}: el slug {slug!r} solo puede tener minúsculas, números y guiones."
                )
            label = f"{name}, entrada {index} ({slug})"
            at = f"{name}, línea {line}" if line else name
            if slug in seen:
                raise InvalidContent(f"{label}: el slug ya se usa en {seen[slug]}.")
            seen[slug] = name
            if not isinstance(item["tags"], list):
                raise InvalidContent(f"{label}: tags debe ser una lista.")
            try:
                question, answer, area, tags = _clean(
                    item["question"], item["answer"], item["area"], item["tags"]
                )
            except InvalidEntry as error:
                raise InvalidContent(f"{label}: {error.message}") from error
            if item.get("revisado") in (None, ""):
                raise InvalidContent(
                    f"{at}: a la entrada {index} ({slug}) le falta la fecha de revisión "
                    "(revisado: AAAA-MM-DD), el día en que se comprobaron sus datos."
                )
            reviewed_on = review_date(item["revisado"])
            if reviewed_on is None:
                raise InvalidContent(
                    f"{at}: la fecha de revisión (revisado) de la entrada {index} ({slug}) "
                    "debe ser una fecha AAAA-MM-DD."
                )
            sources, ok = read_sources(item.get("fuentes"))
            if not ok:
                raise InvalidContent(f"{at}: en la entrada {index} ({slug}), {SOURCES_MESSAGE}")
            entries.append(
                {
                    "slug": slug,
                    "question": question,
                    "answer": answer,
                    "area": area,
                    "tags": tags,
                    "reviewed_on": reviewed_on,
                    "sources": sources,
                    "where": at,
                }
            )
    return entries


def rebuild_vocabulary() -> None:
    """Rebuild the typo-correction vocabulary from the published entries (after bulk loads
    that do not go through these services). The caller commits."""
    found: set[str] = set()
    for entry in db.session.scalars(select(FaqEntry).where(FaqEntry.published.is_(True))):
        found |= _entry_terms(entry)
    backend.replace_terms(found)


def _same(entry: FaqEntry, item: dict) -> bool:
    """Is the stored entry (text and its normalized form) already what the file says?"""
    probe = FaqEntry()
    _apply(probe, item["question"], item["answer"], item["area"], item["tags"])
    probe.reviewed_on, probe.sources = item["reviewed_on"], item["sources"]
    return all(
        getattr(entry, name) == getattr(probe, name)
        for name in (
            "question",
            "answer",
            "area",
            "tags",
            "question_norm",
            "tags_norm",
            "answer_norm",
            "reviewed_on",
            "sources",
        )
    )


def _review_warnings(items: list[dict], today) -> list[str]:
    """ "file, línea N: reason" for every entry due for review on `today`."""
    return [
        f"{item['where']}: {item['slug']} {reason}"
        for item in items
        for reason in review_problems(
            f"{item['question']}\n{item['answer']}", item["reviewed_on"], today
        )
    ]


def load_content(root, *, now: datetime | None = None) -> str:
    """Import faq/*.yml under `root`, keyed by slug (idempotent: unchanged entries are not
    touched; changed ones are updated; the published flag of existing entries is left to
    the admins). All files are validated first: any error (a missing `revisado` included)
    raises InvalidContent and nothing changes. Entries due for review on `now` still load;
    the summary warns about them."""
    folder = Path(root) / "faq"
    if not folder.is_dir():
        return "Preguntas frecuentes: no hay carpeta faq/."
    items = _read_content(folder)
    now = now or utcnow()
    warnings = _review_warnings(items, now.date())
    existing = {
        e.slug: e
        for e in db.session.scalars(
            select(FaqEntry).where(FaqEntry.slug.in_([i["slug"] for i in items]))
        )
    }
    created = updated = 0
    for item in items:
        entry = existing.get(item["slug"])
        if entry is None:
            entry = FaqEntry(slug=item["slug"], published=True, created_at=now, updated_at=now)
            db.session.add(entry)
            created += 1
        elif _same(entry, item):
            continue
        else:
            entry.updated_at = now
            updated += 1
        _apply(entry, item["question"], item["answer"], item["area"], item["tags"])
        entry.reviewed_on, entry.sources = item["reviewed_on"], item["sources"]
    db.session.flush()
    if created or updated:
        rebuild_vocabulary()
    db.session.commit()
    unchanged = len(items) - created - updated
    summary = (
        f"Preguntas frecuentes: {plural(created, 'nueva', 'nuevas')}, "
        f"{plural(updated, 'actualizada', 'actualizadas')}, {unchanged} sin cambios."
    )
    if warnings:
        summary += "\nPreguntas por revisar:\n" + "\n".join(f"- {w}" for w in warnings)
    return summary


def stale_entries(today) -> list[dict]:
    """Entries due for review on `today` (rule: reviewed in the last 12 months and no past
    date named as current), as {"entry", "reasons"}. An entry written in the editor has no
    `revisado`: its last edit counts as its review."""
    stale = []
    for entry in db.session.scalars(select(FaqEntry).order_by(FaqEntry.question)):
        reviewed_on = entry.reviewed_on or entry.updated_at.date()
        reasons = review_problems(f"{entry.question}\n{entry.answer}", reviewed_on, today)
        if reasons:
            stale.append({"entry": entry, "reviewed_on": entry.reviewed_on, "reasons": reasons})
    return stale


# --- personal data ---------------------------------------------------------------------


@data_exported.connect
def export_user_data(user_id: int, **_extra) -> dict:
    """The user's "¿Te sirvió?" votes (nothing else here is personal)."""
    rows = db.session.execute(
        select(FaqVote, FaqEntry.question)
        .join(FaqEntry, FaqEntry.id == FaqVote.entry_id)
        .where(FaqVote.user_id == user_id)
        .order_by(FaqVote.id)
    ).all()
    return {
        "votos_preguntas_frecuentes": [
            {
                "pregunta": question,
                "me_sirvio": vote_.helpful,
                "fecha": vote_.created_at.isoformat(),
            }
            for vote_, question in rows
        ]
    }


@user_anonymized.connect
def anonymize_user(user_id: int, **_extra) -> None:
    """Detach the user's votes from them; the counts stay."""
    db.session.execute(
        update(FaqVote).where(FaqVote.user_id == user_id).values(user_id=None, session_key=None)
    )
