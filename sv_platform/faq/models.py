"""FAQ entries (with their normalized, searchable text) and the "¿Te sirvió?" votes."""

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sv_platform.core.timeutil import UTCDateTime, utcnow
from sv_platform.extensions import db

AREAS = {"legal": "Legal", "sustainability": "Sustentabilidad", "general": "General"}


class FaqEntry(db.Model):
    """A question and its Markdown answer.

    `question_norm`, `tags_norm` and `answer_norm` hold the text after the search
    normalization (lowercase, no accents, no stopwords, Spanish stems); the full-text
    index (FTS5 on SQLite, a tsvector on PostgreSQL, both created in the migration) is
    built over them and kept in sync by the database itself.
    """

    __tablename__ = "faq_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    question: Mapped[str] = mapped_column(String(300))
    answer: Mapped[str] = mapped_column(Text)
    area: Mapped[str] = mapped_column(String(20), index=True)
    tags: Mapped[list] = mapped_column(JSON, default=list)
    published: Mapped[bool] = mapped_column(default=False)
    # The consulta an entry was drafted from. A plain integer on purpose: no foreign key,
    # the consultation table lives in another domain's migration.
    source_consultation_id: Mapped[int | None]
    # An entry drafted from a consulta is published only once a second person approves it
    # (user ids; plain integers like the consulta id, so the FTS table is never rebuilt).
    proposed_by_id: Mapped[int | None]
    approved_by_id: Mapped[int | None]
    # From the content files: when its facts were last checked and the official pages
    # behind them ([{"nombre", "url"}]). Entries written in the editor have none.
    reviewed_on: Mapped[date | None] = mapped_column(Date)
    sources: Mapped[list | None] = mapped_column(JSON)
    view_count: Mapped[int] = mapped_column(default=0)
    helpful_count: Mapped[int] = mapped_column(default=0)
    not_helpful_count: Mapped[int] = mapped_column(default=0)
    question_norm: Mapped[str] = mapped_column(Text, default="")
    tags_norm: Mapped[str] = mapped_column(Text, default="")
    answer_norm: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    __table_args__ = (Index("ix_faq_entry_published_views", "published", "view_count"),)

    @property
    def area_label(self) -> str:
        return AREAS.get(self.area, self.area)

    @property
    def awaiting_approval(self) -> bool:
        return self.proposed_by_id is not None and self.approved_by_id is None

    @property
    def votes(self) -> int:
        return self.helpful_count + self.not_helpful_count


class FaqVote(db.Model):
    """One "¿Te sirvió?" answer per entry and per user (or per anonymous session key)."""

    __tablename__ = "faq_vote"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("faq_entry.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    session_key: Mapped[str | None] = mapped_column(String(64))
    helpful: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("entry_id", "user_id", name="uq_faq_vote_entry_user"),
        UniqueConstraint("entry_id", "session_key", name="uq_faq_vote_entry_session"),
    )


class FaqTerm(db.Model):
    """The words of the published entries (lower case, unaccented), offered as typo
    corrections without scanning the full-text index. Words of edited or deleted entries
    may linger; they are only candidates, and the corrected query is a real search."""

    __tablename__ = "faq_term"

    term: Mapped[str] = mapped_column(String(80), primary_key=True)
