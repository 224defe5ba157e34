"""Content review for admins: every lesson, quiz, course and FAQ entry due for review."""

from dataclasses import dataclass
from datetime import date

from flask import url_for
from sqlalchemy import select

from sv_platform.core.content_review import StaleItem, review_problems
from sv_platform.core.spanish import strip_accents
from sv_platform.courses.models import Course, Lesson
from sv_platform.extensions import db
from sv_platform.faq import services as faq

PAGE_SIZE = 25


def _check(items, kind, title, where, url, reviewed_on, text, today) -> None:
    reasons = review_problems(text, reviewed_on, today)
    if reasons:
        items.append(StaleItem(kind, title, where, url, reviewed_on, reasons))


def stale_course_content(today: date) -> list[StaleItem]:
    """Current courses, quizzes and lessons due for review on `today`: not reviewed in the
    last 12 months, or naming a past year or date as current."""
    items: list[StaleItem] = []
    courses = db.session.scalars(
        select(Course).where(Course.retired_at.is_(None)).order_by(Course.title)
    )
    for course in courses:
        course_url = url_for("courses.course", slug=course.slug)
        text = f"{course.title}\n{course.summary}"
        _check(items, "Curso", course.title, "Cursos", course_url, course.reviewed_on, text, today)
        if course.quiz:
            text = "\n".join("\n".join([q["text"], *q["options"]]) for q in course.quiz)
            url = url_for("courses.quiz", slug=course.slug)
            _check(
                items,
                "Evaluación",
                course.title,
                course.title,
                url,
                course.quiz_reviewed_on,
                text,
                today,
            )
        lessons = db.session.scalars(
            select(Lesson)
            .where(Lesson.course_id == course.id, Lesson.retired_at.is_(None))
            .order_by(Lesson.position)
        )
        for lesson in lessons:
            url, text = f"{course_url}/{lesson.slug}", f"{lesson.title}\n{lesson.body_md}"
            when = lesson.reviewed_on
            _check(items, "Lección", lesson.title, course.title, url, when, text, today)
    return items


def stale_faq_content(today: date) -> list[StaleItem]:
    """FAQ entries due for review on `today` (see faq.services.stale_entries)."""
    return [
        StaleItem(
            "Pregunta frecuente",
            row["entry"].question,
            f"Preguntas frecuentes · {row['entry'].area_label}",
            url_for("faq.admin_edit", entry_id=row["entry"].id),
            row["reviewed_on"],
            row["reasons"],
        )
        for row in faq.stale_entries(today)
    ]


@dataclass(frozen=True)
class ReviewPage:
    items: list[StaleItem]
    total: int
    page: int
    pages: int
    query: str


def review_page(today: date, *, query: str | None = None, page: int = 1) -> ReviewPage:
    """One page of the content due for review on `today`, courses first, optionally only
    the items whose kind, title, course or reasons contain every word of `query`."""
    items = stale_course_content(today) + stale_faq_content(today)
    query = " ".join((query or "").split())[:100]
    words = strip_accents(query.casefold()).split()
    if words:
        items = [
            x
            for x in items
            if all(
                w in strip_accents(f"{x.kind} {x.title} {x.where} {' '.join(x.reasons)}".casefold())
                for w in words
            )
        ]
    pages = max(1, -(-len(items) // PAGE_SIZE))
    page = min(max(page, 1), pages)
    start = (page - 1) * PAGE_SIZE
    return ReviewPage(items[start : start + PAGE_SIZE], len(items), page, pages, query)


def _searchable(item) -> str:
    text = f"{item.kind} {item.title} {item.where} {' '.join(item.reasons)}"
    return strip_accents(text.casefold())
