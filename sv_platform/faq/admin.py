"""The admin's list of FAQ entries (search, state filter, pages) and how the audit log
names an entry."""

from sqlalchemy import or_, select

from sv_platform.accounts.signals import audit_labels
from sv_platform.core.paging import Page, keyset_page
from sv_platform.core.spanish import terms
from sv_platform.extensions import db
from sv_platform.faq.models import AREAS, FaqEntry

STATES = {"publicadas": "Publicadas", "borradores": "Borradores"}


def admin_page(
    *,
    area: str | None = None,
    q: str | None = None,
    state: str | None = None,
    cursor: int | None = None,
    size: int = 25,
) -> Page:
    """Entries (drafts included) of an area and state whose question or tags contain every
    word of `q` (accents, case and word endings ignored, as in the public search); newest
    first, one keyset page."""
    query = select(FaqEntry)
    if area in AREAS:
        query = query.where(FaqEntry.area == area)
    if state == "publicadas":
        query = query.where(FaqEntry.published.is_(True))
    elif state == "borradores":
        query = query.where(FaqEntry.published.is_(False))
    for term in terms(q)[:8]:
        pattern = f"%{term}%"
        query = query.where(
            or_(FaqEntry.question_norm.like(pattern), FaqEntry.tags_norm.like(pattern))
        )
    return keyset_page(db.session, query, FaqEntry.id, cursor=cursor, size=size)


@audit_labels.connect_via("faq_entry")
def entry_labels(_sender, *, ids, **_extra) -> dict:
    """«question» for the audit log (deleted entries are named from the entry's snapshot)."""
    numbers = [int(i) for i in ids if i.isdigit()]
    rows = db.session.execute(
        select(FaqEntry.id, FaqEntry.question).where(FaqEntry.id.in_(numbers))
    )
    return {str(i): f"«{question}»" for i, question in rows}
