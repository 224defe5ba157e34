"""Course rules: content import, access to lessons, progress, quiz, egreso, certificates."""

import base64
import logging
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from markupsafe import Markup
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from sv_platform.accounts import services as accounts
from sv_platform.accounts.signals import data_exported, user_anonymized
from sv_platform.core import spanish
from sv_platform.core.domain import DomainError, InvalidInput, NotAllowed, NotFound
from sv_platform.core.formatting import plural
from sv_platform.core.prepared import Prepared
from sv_platform.core.text import render_markdown
from sv_platform.core.timeutil import as_utc, utcnow
from sv_platform.courses import content
from sv_platform.courses.models import (
    AREAS,
    Certificate,
    Course,
    CourseModule,
    Lesson,
    LessonProgress,
    QuizAttempt,
)
from sv_platform.enrollment import services as enrollment
from sv_platform.extensions import db, write_transaction

log = logging.getLogger(__name__)

SEAT_STATUSES = ("active", "graduated")


class ContentError(InvalidInput):
    message = "El contenido de los cursos tiene errores; no se cargó nada."


class LoginRequired(DomainError):
    code = "unauthenticated"
    status = 401
    message = "Ingresa con tu cuenta para ver esta lección."


class NotEnrolled(NotAllowed):
    message = (
        "Para ver esta lección debes estar inscrito/a en el curso. La primera "
        "lección es de libre acceso; inscríbete para continuar."
    )


# --- content import ---------------------------------------------------------------------


def load_content(root, *, now: datetime | None = None) -> str:
    """`flask sv content load`: import `root/courses/*` idempotently. Everything is
    validated first and written in one transaction: a lesson keeps its id by slug (progress
    survives edits), a removed lesson (or course) is retired, never deleted. Each course
    gets its enrolment offering (slug = course slug). Every file must say when it was
    reviewed (`revisado`). Raises ContentError listing every problem as "file, línea N: ..."
    and then nothing has changed. Content due for review on `now` (not reviewed in 12
    months, or naming a past date as current) still loads; the summary warns about it."""
    now = now or utcnow()
    courses, problems = content.read_courses(Path(root))
    if problems:
        raise ContentError(
            "El contenido de los cursos tiene errores; no se cargó nada.\n" + "\n".join(problems)
        )
    warnings = content.review_warnings(courses, Path(root), now.date())
    offerings = {
        c.slug: enrollment.ensure_offering("course", c.slug, c.slug, c.title).id for c in courses
    }
    stats = dict.fromkeys(
        ("new", "updated", "same", "retired", "l_new", "l_updated", "l_retired"), 0
    )
    with write_transaction():
        existing = {c.slug: c for c in db.session.scalars(select(Course))}
        for data in courses:
            _upsert_course(existing.get(data.slug), data, offerings[data.slug], now, stats)
        on_disk = {c.slug for c in courses}
        for slug, course in existing.items():
            if slug not in on_disk and course.retired_at is None:
                course.retired_at, course.updated_at = now, now
                stats["retired"] += 1
        db.session.commit()
    summary = (
        f"Cursos: {len(courses)} ({plural(stats['new'], 'nuevo', 'nuevos')}, "
        f"{plural(stats['updated'], 'actualizado', 'actualizados')}, {stats['same']} sin "
        f"cambios, {plural(stats['retired'], 'retirado', 'retirados')}). "
        f"Lecciones: {plural(stats['l_new'], 'nueva', 'nuevas')}, "
        f"{plural(stats['l_updated'], 'actualizada', 'actualizadas')}, "
        f"{plural(stats['l_retired'], 'retirada', 'retiradas')}."
    )
    log.info("content load: %s", summary)
    if stats["l_retired"] or stats["updated"]:
        graduate_completed(now=now)
    for warning in warnings:
        log.warning("content due for review: %s", warning)
    if warnings:
        summary += "\nContenido por revisar:\n" + "\n".join(f"- {w}" for w in warnings)
    return summary


def _upsert_course(course: Course | None, data, offering_id: int, now, stats) -> None:
    if (
        course is not None
        and course.content_hash == data.content_hash
        and course.retired_at is None
    ):
        stats["same"] += 1
        return
    if course is None:
        course = Course(slug=data.slug)
        db.session.add(course)
        stats["new"] += 1
    else:
        stats["updated"] += 1
    course.title, course.summary, course.area = data.title, data.summary, data.area
    course.hours, course.passing_score = data.hours, data.passing_score
    course.quiz, course.quiz_hash = data.quiz, data.quiz_hash
    course.content_hash, course.offering_id = data.content_hash, offering_id
    course.reviewed_on, course.sources = data.reviewed_on, data.sources
    course.quiz_reviewed_on, course.quiz_sources = data.quiz_reviewed_on, data.quiz_sources
    course.retired_at, course.updated_at = None, now
    db.session.flush()

    modules = list(
        db.session.scalars(
            select(CourseModule)
            .where(CourseModule.course_id == course.id)
            .order_by(CourseModule.position)
        )
    )
    for index, title in enumerate(data.modules):
        if index < len(modules):
            modules[index].title, modules[index].position = title, index
        else:
            modules.append(CourseModule(course_id=course.id, position=index, title=title))
            db.session.add(modules[-1])
    db.session.flush()

    lessons = {
        x.slug: x for x in db.session.scalars(select(Lesson).where(Lesson.course_id == course.id))
    }
    for item in data.lessons:
        lesson = lessons.pop(item.slug, None)
        module_id = modules[item.module_index].id
        if lesson is None:
            db.session.add(
                Lesson(
                    course_id=course.id,
                    module_id=module_id,
                    slug=item.slug,
                    title=item.title,
                    minutes=item.minutes,
                    position=item.position,
                    body_md=item.body_md,
                    content_hash=item.content_hash,
                    reviewed_on=item.reviewed_on,
                    sources=item.sources,
                    updated_at=now,
                )
            )
            stats["l_new"] += 1
            continue
        changed = lesson.content_hash != item.content_hash or lesson.retired_at is not None
        lesson.module_id, lesson.position, lesson.retired_at = module_id, item.position, None
        if changed:
            lesson.title, lesson.minutes, lesson.body_md = item.title, item.minutes, item.body_md
            lesson.reviewed_on, lesson.sources = item.reviewed_on, item.sources
            lesson.content_hash, lesson.updated_at = item.content_hash, now
            stats["l_updated"] += 1
    for lesson in lessons.values():  # no longer on disk: retired, progress kept
        if lesson.retired_at is None:
            lesson.retired_at, lesson.updated_at = now, now
            stats["l_retired"] += 1
        lesson.module_id = None
    db.session.flush()
    for extra in modules[len(data.modules) :]:
        db.session.delete(extra)
    db.session.flush()


# --- reading courses --------------------------------------------------------------------


def _search_text(course: Course) -> tuple[set[str], set[str]]:
    """(stems of the title, stems of the summary and the lesson titles) of a course."""
    lessons = db.session.scalars(
        select(Lesson.title).where(Lesson.course_id == course.id, Lesson.retired_at.is_(None))
    )
    rest = f"{course.summary} {' '.join(lessons)}"
    return set(spanish.terms(course.title)), set(spanish.terms(rest))


def _matches(stems: set[str], term: str) -> bool:
    forms = spanish.alternatives(term)
    if any(spanish.stem_matches(s, forms) for s in stems):
        return True
    # A long word also matches by a shorter root: "reciclaje" finds "recicla".
    return len(term) >= 7 and any(s.startswith(term[:-2]) for s in stems)


def list_courses(*, area: str | None = None, query: str | None = None) -> list[Course]:
    """Published (not retired) courses, optionally of one area. With `query`, the courses
    matching any of its words (the FAQ's Spanish normalization: accents, plurals, verb
    forms) in the title, summary or lesson titles, the best matches first (a word in the
    title counts double)."""
    select_courses = select(Course).where(Course.retired_at.is_(None)).order_by(Course.title)
    if area in AREAS:
        select_courses = select_courses.where(Course.area == area)
    courses = list(db.session.scalars(select_courses))
    terms = spanish.query_terms(query)
    if not terms:
        return courses
    scored = []
    for course in courses:
        title, rest = _search_text(course)
        score = sum(2 if _matches(title, t) else 1 if _matches(rest, t) else 0 for t in terms)
        if score:
            scored.append((score, course))
    scored.sort(key=lambda item: -item[0])  # stable: title order on ties
    return [course for _score, course in scored]


def get_course(slug: str) -> Course:
    """A published course by slug. Raises NotFound."""
    course = db.session.scalar(
        select(Course).where(Course.slug == slug, Course.retired_at.is_(None))
    )
    if course is None:
        raise NotFound("Ese curso no existe o ya no está disponible.")
    return course


@dataclass(frozen=True, slots=True)
class LessonItem:
    """A current lesson without its body: what navigation and progress need."""

    id: int
    slug: str
    title: str
    minutes: int
    position: int
    module_id: int | None
    content_hash: str


def lesson_item_columns() -> tuple:
    """The columns of a LessonItem, in its field order."""
    return (
        Lesson.id,
        Lesson.slug,
        Lesson.title,
        Lesson.minutes,
        Lesson.position,
        Lesson.module_id,
        Lesson.content_hash,
    )


def course_lessons(course_id: int) -> list[LessonItem]:
    """Current lessons in order, as light rows (no ORM objects, no bodies)."""
    rows = db.session.execute(
        select(*lesson_item_columns())
        .where(Lesson.course_id == course_id, Lesson.retired_at.is_(None))
        .order_by(Lesson.position)
    )
    return [LessonItem(*row) for row in rows]


def _lessons_and_progress(course_id: int, user_id: int | None):
    """Current lessons and which of them the person completed, in one query."""
    if not user_id:
        return course_lessons(course_id), set()
    rows = db.session.execute(
        select(*lesson_item_columns(), LessonProgress.id)
        .outerjoin(
            LessonProgress,
            (LessonProgress.lesson_id == Lesson.id) & (LessonProgress.user_id == user_id),
        )
        .where(Lesson.course_id == course_id, Lesson.retired_at.is_(None))
        .order_by(Lesson.position)
    )
    lessons, completed = [], set()
    for *fields, progress_id in rows:
        lessons.append(LessonItem(*fields))
        if progress_id is not None:
            completed.add(fields[0])
    return lessons, completed


def _user_id(user) -> int | None:
    """The id of a logged-in person; None for nobody or an anonymous visitor."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return user.id


def _seat(user, course: Course):
    """The enrolment that gives a seat in the course (active or graduated), or None."""
    user_id = _user_id(user)
    if user_id is None:
        return None
    current = enrollment.latest_enrollment(user_id, course.offering_id)
    return current if current is not None and current.status in SEAT_STATUSES else None


def has_seat(user, course: Course) -> bool:
    """Enrolled (active) or already graduated: may open every lesson."""
    user_id = _user_id(user)
    return user_id is not None and (
        enrollment.latest_status(user_id, course.offering_id) in SEAT_STATUSES
    )


def completed_lesson_ids(user_id: int | None, course_id: int) -> set[int]:
    """Ids of the lessons of a course the person completed."""
    if not user_id:
        return set()
    return set(
        db.session.scalars(
            select(LessonProgress.lesson_id).where(
                LessonProgress.user_id == user_id, LessonProgress.course_id == course_id
            )
        )
    )


@dataclass(frozen=True)
class Progress:
    """Lessons done of the current ones. A graduate stays at 100 % even when lessons are
    added after their egreso (`new_lessons` says how many); `quiz_pending` means every
    lesson is done but the quiz is not passed yet."""

    done: int
    total: int
    graduated: bool = False
    quiz_pending: bool = False

    @property
    def percent(self) -> int:
        if self.graduated:
            return 100
        return int(self.done * 100 / self.total) if self.total else 0

    @property
    def complete(self) -> bool:
        return self.graduated or (self.total > 0 and self.done >= self.total)

    @property
    def new_lessons(self) -> int:
        return max(self.total - self.done, 0) if self.graduated else 0


def _progress(
    lessons: list[LessonItem],
    completed: set[int],
    *,
    graduated: bool = False,
    quiz_pending: bool = False,
) -> Progress:
    done = sum(1 for x in lessons if x.id in completed)
    all_done = bool(lessons) and done >= len(lessons)
    return Progress(done, len(lessons), graduated, quiz_pending and all_done and not graduated)


def resume_lesson(lessons: list[LessonItem], completed: set[int]) -> LessonItem | None:
    """Where the person continues: the first current lesson not yet completed."""
    return next((x for x in lessons if x.id not in completed), None)


_REVIEW_CACHE: OrderedDict[tuple[int, str], tuple] = OrderedDict()


def _lesson_review(lesson) -> tuple:
    """(revisado, fuentes) of a lesson, cached by (lesson id, content hash): the hash covers
    both, so an edit can never be served stale."""
    key = (lesson.id, lesson.content_hash)
    with _HTML_LOCK:
        found = _REVIEW_CACHE.get(key)
    if found is not None:
        return found
    reviewed_on, sources = db.session.execute(
        select(Lesson.reviewed_on, Lesson.sources).where(Lesson.id == lesson.id)
    ).one()
    found = (reviewed_on, list(sources or []))
    with _HTML_LOCK:
        _REVIEW_CACHE[key] = found
        while len(_REVIEW_CACHE) > _HTML_CACHE_SIZE:
            _REVIEW_CACHE.popitem(last=False)
    return found


_HTML_CACHE: OrderedDict[tuple[int, str], Markup] = OrderedDict()
_HTML_LOCK = threading.Lock()
_HTML_CACHE_SIZE = 512


def lesson_html(lesson) -> Markup:
    """The lesson's sanitized HTML. Cached by (lesson id, content hash): an edit changes the
    hash, so no process can ever serve a stale rendering."""
    key = (lesson.id, lesson.content_hash)
    with _HTML_LOCK:
        html = _HTML_CACHE.get(key)
        if html is not None:
            _HTML_CACHE.move_to_end(key)
            return html
    body = db.session.scalar(
        select(Lesson.body_md).where(
            Lesson.id == lesson.id, Lesson.content_hash == lesson.content_hash
        )
    )
    if body is None:  # edited meanwhile: render the current text, cache nothing stale
        return render_markdown(
            db.session.scalar(select(Lesson.body_md).where(Lesson.id == lesson.id))
        )
    html = render_markdown(body)
    with _HTML_LOCK:
        _HTML_CACHE[key] = html
        while len(_HTML_CACHE) > _HTML_CACHE_SIZE:
            _HTML_CACHE.popitem(last=False)
    return html


# --- pages (what a view shows, gathered by one service call) ----------------------------


@dataclass
class CourseCard:
    course: Course
    state: object
    progress: Progress | None


def catalog(
    user, *, area: str | None = None, query: str | None = None, now: datetime | None = None
) -> list[CourseCard]:
    """Catalog cards: the course, its cupos state for this person and their progress."""
    courses = list_courses(area=area, query=query)
    if not courses:
        return []
    ids = [c.id for c in courses]
    totals = dict(
        db.session.execute(
            select(Lesson.course_id, func.count())
            .where(Lesson.course_id.in_(ids), Lesson.retired_at.is_(None))
            .group_by(Lesson.course_id)
        ).all()
    )
    done = {}
    user_id = _user_id(user)
    if user_id:
        done = dict(
            db.session.execute(
                select(LessonProgress.course_id, func.count())
                .join(Lesson)
                .where(
                    LessonProgress.user_id == user_id,
                    LessonProgress.course_id.in_(ids),
                    Lesson.retired_at.is_(None),
                )
                .group_by(LessonProgress.course_id)
            ).all()
        )
    cards = []
    for course in courses:
        state = enrollment.offering_state(user, course.offering, now=now)
        progress = None
        if user_id and (course.id in done or state.code in ("enrolled", "graduated")):
            progress = Progress(
                done.get(course.id, 0), totals.get(course.id, 0), state.code == "graduated"
            )
        cards.append(CourseCard(course, state, progress))
    return cards


@dataclass
class CoursePage:
    course: Course
    modules: list[tuple[CourseModule, list[LessonItem]]]
    lessons: list[LessonItem]
    completed: set[int]
    progress: Progress
    resume: LessonItem | None
    state: object
    has_seat: bool
    quiz_passed: bool
    last_attempt: QuizAttempt | None
    certificate: Certificate | None


def course_page(user, slug: str, *, now: datetime | None = None) -> CoursePage:
    """The course with its modules, the person's progress, where to continue, the cupos
    state, the quiz status and the certificate. Raises NotFound."""
    course = get_course(slug)
    user_id = _user_id(user)
    lessons, completed = _lessons_and_progress(course.id, user_id)
    by_module: dict[int, list[LessonItem]] = {}
    for lesson in lessons:
        by_module.setdefault(lesson.module_id, []).append(lesson)
    modules = [(m, by_module.get(m.id, [])) for m in course.modules]
    attempt = last_attempt(user_id, course.id) if user_id else None
    seat = _seat(user, course)
    passed = bool(user_id) and quiz_passed(user_id, course.id)
    return CoursePage(
        course=course,
        modules=modules,
        lessons=lessons,
        completed=completed,
        progress=_progress(
            lessons,
            completed,
            graduated=seat is not None and seat.status == "graduated",
            quiz_pending=course.has_quiz and not passed,
        ),
        resume=resume_lesson(lessons, completed),
        state=enrollment.offering_state(user, course.offering, now=now),
        has_seat=has_seat(user, course),
        quiz_passed=bool(user_id) and quiz_passed(user_id, course.id),
        last_attempt=attempt,
        certificate=certificate_for(user_id, course.id) if user_id else None,
    )


@dataclass(frozen=True, slots=True)
class CourseItem:
    """A course's structure at one content version (no ORM object: shared by requests)."""

    id: int
    slug: str
    title: str
    area: str
    hours: int
    offering_id: int
    has_quiz: bool
    content_hash: str
    lessons: tuple[LessonItem, ...]

    @property
    def offering(self):
        """The enrolment offering (only the "inscríbete" box needs the row)."""
        return db.session.get(Course, self.id).offering


_STRUCTURE_CACHE: OrderedDict[tuple, CourseItem] = OrderedDict()
_STRUCTURE_CACHE_SIZE = 64


def course_structure(course_id: int, content_hash: str) -> CourseItem:
    """The course and its current lessons, cached by (course id, content hash): a content
    load that changes anything in the course changes its hash, so no process can serve a
    stale structure, and a race only renders the current one."""
    key = (db.engine.url, course_id, content_hash)
    with _HTML_LOCK:
        item = _STRUCTURE_CACHE.get(key)
        if item is not None:
            _STRUCTURE_CACHE.move_to_end(key)
            return item
    course = db.session.get(Course, course_id)
    if course is None or course.content_hash != content_hash:  # reloaded meanwhile
        course = db.session.get(Course, course_id, populate_existing=True)
        if course is None:
            raise NotFound("Ese curso no existe o ya no está disponible.")
        content_hash = course.content_hash
    item = CourseItem(
        id=course.id,
        slug=course.slug,
        title=course.title,
        area=course.area,
        hours=course.hours,
        offering_id=course.offering_id,
        has_quiz=course.has_quiz,
        content_hash=content_hash,
        lessons=tuple(course_lessons(course.id)),
    )
    with _HTML_LOCK:
        _STRUCTURE_CACHE[(db.engine.url, course.id, content_hash)] = item
        while len(_STRUCTURE_CACHE) > _STRUCTURE_CACHE_SIZE:
            _STRUCTURE_CACHE.popitem(last=False)
    return item


_SEAT_STATUS = enrollment.latest_status_sql("course.offering_id")
_VERSION_PROGRESS_AND_SEAT = Prepared(
    text(
        "SELECT course.id, course.content_hash, lesson_progress.lesson_id, "  # noqa: S608 - constants
        + _SEAT_STATUS
        + " FROM course "
        "LEFT OUTER JOIN lesson_progress ON lesson_progress.course_id = course.id "
        "AND lesson_progress.user_id = :user_id "
        "WHERE course.slug = :slug AND course.retired_at IS NULL"
    )
)


def _course_version_progress_and_seat(slug: str, user_id: int | None):
    """(course id, content hash, ids of the lessons the person completed, whether they have
    a seat), in one query (textual SQL sent straight to the driver: this runs on every
    lesson page); None when there is no such course."""
    rows = _VERSION_PROGRESS_AND_SEAT.rows({"slug": slug, "user_id": user_id or 0})
    if not rows:
        return None
    first = rows[0]
    seat = user_id is not None and first[3] in SEAT_STATUSES
    return first[0], first[1], {row[2] for row in rows if row[2] is not None}, seat


@dataclass
class LessonPage:
    course: CourseItem
    lesson: LessonItem
    lessons: list[LessonItem]
    completed: set[int]
    progress: Progress
    html: Markup
    previous: LessonItem | None
    next: LessonItem | None
    has_seat: bool
    is_preview: bool
    state: object = None
    reviewed_on: date | None = None  # when the lesson's facts were last checked
    sources: list = field(default_factory=list)  # [{"nombre", "url"}]


def lesson_page(user, slug: str, lesson_slug: str, *, now: datetime | None = None) -> LessonPage:
    """A lesson to read. The first lesson is a free preview for everyone; the others need
    a seat (enrolment active or graduated). Raises NotFound, LoginRequired (anonymous),
    NotEnrolled (logged in without a seat).

    One query: the course's content version with the person's progress and seat; the
    structure and the lesson's HTML come from caches keyed by content version."""
    user_id = _user_id(user)
    found = _course_version_progress_and_seat(slug, user_id)
    if found is None:
        raise NotFound("Ese curso no existe o ya no está disponible.")
    course = course_structure(found[0], found[1])
    completed = found[2]
    lessons = list(course.lessons)
    index = next((i for i, x in enumerate(lessons) if x.slug == lesson_slug), None)
    if index is None:
        raise NotFound("Esa lección no existe o ya no forma parte del curso.")
    lesson = lessons[index]
    seat = found[3]
    is_preview = index == 0
    if not is_preview and not seat:
        if not user_id:
            raise LoginRequired()
        raise NotEnrolled()
    reviewed_on, sources = _lesson_review(lesson)
    return LessonPage(
        reviewed_on=reviewed_on,
        sources=sources or [],
        course=course,
        lesson=lesson,
        lessons=lessons,
        completed=completed,
        progress=_progress(lessons, completed),
        html=lesson_html(lesson),
        previous=lessons[index - 1] if index > 0 else None,
        next=lessons[index + 1] if index + 1 < len(lessons) else None,
        has_seat=seat,
        is_preview=is_preview,
        state=None if seat else enrollment.offering_state(user, course.offering, now=now),
    )


def enrol_prompt(user, slug: str, *, now: datetime | None = None):
    """(course, cupos state) for the "inscríbete para continuar" page. Raises NotFound."""
    course = get_course(slug)
    return course, enrollment.offering_state(user, course.offering, now=now)


# --- progress and egreso ----------------------------------------------------------------


def _require_seat(user, course: Course):
    current = _seat(user, course)
    if current is None:
        raise NotEnrolled("Debes estar inscrito/a en este curso para registrar tu avance.")
    return current


def complete_lesson(
    user, slug: str, lesson_slug: str, *, now: datetime | None = None
) -> LessonItem | None:
    """Mark a lesson as completed (idempotent: a double submit keeps one row), then check
    egreso. Only people with a seat in the course. Returns the next lesson, or None at the
    end. Raises NotFound, NotEnrolled."""
    now = now or utcnow()
    course = get_course(slug)
    lessons = course_lessons(course.id)
    lesson = next((x for x in lessons if x.slug == lesson_slug), None)
    if lesson is None:
        raise NotFound("Esa lección no existe o ya no forma parte del curso.")
    _require_seat(user, course)
    user_id, course_id, lesson_id = user.id, course.id, lesson.id
    with write_transaction():
        exists = db.session.scalar(
            select(LessonProgress.id).where(
                LessonProgress.user_id == user_id, LessonProgress.lesson_id == lesson_id
            )
        )
        if exists is None:
            db.session.add(
                LessonProgress(
                    user_id=user_id, lesson_id=lesson_id, course_id=course_id, completed_at=now
                )
            )
            try:
                db.session.commit()
            except IntegrityError:  # a concurrent double submit already stored it
                db.session.rollback()
        else:
            db.session.commit()
    check_completion(user, course, now=now)
    index = lessons.index(lesson)
    return lessons[index + 1] if index + 1 < len(lessons) else None


def is_complete(user_id: int, course: Course) -> bool:
    """Every current lesson completed and, if the course has a quiz, the quiz passed."""
    lessons = course_lessons(course.id)
    if not _progress(lessons, completed_lesson_ids(user_id, course.id)).complete:
        return False
    return not course.has_quiz or quiz_passed(user_id, course.id)


def check_completion(user, course: Course, *, now: datetime | None = None):
    """Egreso: when the course is 100 % done (all current lessons and the quiz passed) the
    active enrolment graduates (enrollment.mark_graduated: exactly once, even under a
    double submit) and its certificate is issued (once per enrolment: unique constraint),
    with the notice, in one transaction. Returns the Certificate, or None while the course
    is not complete."""
    now = now or utcnow()
    current = _seat(user, course)
    if current is None:
        return None
    if current.status == "active" and not is_complete(user.id, course):
        return None
    seat_id = current.id
    try:
        with write_transaction():
            graduated_now = enrollment.mark_graduated(seat_id, now=now)
            seat = db.session.get(type(current), seat_id, populate_existing=True)
            if seat.status != "graduated":
                db.session.rollback()
                return None
            certificate = db.session.scalar(
                select(Certificate).where(Certificate.enrollment_id == seat_id)
            )
            if certificate is None:
                certificate = _issue_certificate(user, course, seat, now)
            db.session.commit()
    except IntegrityError:  # a concurrent request issued it first
        db.session.rollback()
        return db.session.scalar(select(Certificate).where(Certificate.enrollment_id == seat_id))
    if graduated_now:
        log.info("egreso user=%s course=%s certificate=%s", user.id, course.slug, certificate.code)
    return certificate


def graduate_completed(*, now: datetime | None = None) -> int:
    """Egreso for everyone whose course became complete without a new action of theirs
    (the only lesson they missed was retired by a content update): each active course
    enrolment with every current lesson done and the quiz passed graduates, with its
    certificate. Idempotent (a periodic job and run after each content load). Returns
    how many graduated."""
    from sv_platform.accounts.models import User

    now = now or utcnow()
    graduated = 0
    for course in db.session.scalars(select(Course).where(Course.retired_at.is_(None))).all():
        total = db.session.scalar(
            select(func.count())
            .select_from(Lesson)
            .where(Lesson.course_id == course.id, Lesson.retired_at.is_(None))
        )
        if not total:
            continue
        finished = set(
            db.session.scalars(
                select(LessonProgress.user_id)
                .join(Lesson, Lesson.id == LessonProgress.lesson_id)
                .where(Lesson.course_id == course.id, Lesson.retired_at.is_(None))
                .group_by(LessonProgress.user_id)
                .having(func.count() >= total)
            )
        )
        if not finished:
            continue
        user_ids = sorted(finished & set(enrollment.active_user_ids(course.offering_id)))
        for user_id in user_ids:
            if course.has_quiz and not quiz_passed(user_id, course.id):
                continue
            person = db.session.get(User, user_id)
            if check_completion(person, course, now=now) is not None:
                graduated += 1
    return graduated


def _new_code() -> str:
    """16 base32 characters (80 random bits): unguessable, easy to read aloud."""
    return base64.b32encode(secrets.token_bytes(10)).decode()


def _issue_certificate(user, course: Course, graduated, now) -> Certificate:
    """Inside the egreso's transaction: the certificate and the notice that announces it."""
    certificate = Certificate(
        code=_new_code(),
        user_id=user.id,
        course_id=course.id,
        enrollment_id=graduated.id,
        issued_at=as_utc(graduated.graduated_at) or now,
        name=user.name,
        rut=user.rut,
        course_title=course.title,
        hours=course.hours,
    )
    db.session.add(certificate)
    db.session.flush()
    accounts.notify(
        user.id,
        f"¡Felicitaciones! Egresaste de «{course.title}». Tu certificado ya está disponible.",
        f"/cursos/{course.slug}/certificado",
        commit=False,
    )
    return certificate


# --- quiz -------------------------------------------------------------------------------


def quiz_questions(course: Course) -> list[dict]:
    """The quiz as the browser may see it: statements and options, never the answers."""
    return [{"text": q["text"], "options": list(q["options"])} for q in course.quiz]


def last_attempt(user_id: int, course_id: int) -> QuizAttempt | None:
    """The person's latest quiz attempt in a course, or None."""
    return db.session.scalars(
        select(QuizAttempt)
        .where(QuizAttempt.user_id == user_id, QuizAttempt.course_id == course_id)
        .order_by(QuizAttempt.id.desc())
    ).first()


def quiz_passed(user_id: int, course_id: int) -> bool:
    """Whether any of the person's attempts passed the course's quiz."""
    return (
        db.session.scalar(
            select(QuizAttempt.id)
            .where(
                QuizAttempt.user_id == user_id,
                QuizAttempt.course_id == course_id,
                QuizAttempt.passed.is_(True),
            )
            .limit(1)
        )
        is not None
    )


def _quiz_course(user, slug: str) -> Course:
    """A course with a quiz in which the person has a seat. Raises NotFound, NotEnrolled."""
    course = get_course(slug)
    if not course.has_quiz:
        raise NotFound("Este curso no tiene evaluación.")
    _require_seat(user, course)
    return course


@dataclass
class QuizPage:
    course: Course
    questions: list[dict]
    last_attempt: QuizAttempt | None
    passed: bool
    progress: Progress
    certificate: Certificate | None = None
    wrong: list[int] = field(default_factory=list)
    retry_choices: list[int] = field(default_factory=list)
    # After an attempt: question index → why. Until the quiz is passed only the wrong
    # answers get their explanation (a hint to study, not the option to pick); once passed,
    # every question shows its right answer and why.
    explanations: dict[int, str] = field(default_factory=dict)
    answers: dict[int, str] = field(default_factory=dict)


def quiz_page(user, slug: str) -> QuizPage:
    """The quiz for a person with a seat. Until it is passed, `retry_choices` holds the
    last attempt's choices (one per current question), to show them selected again.
    Raises NotFound, NotEnrolled."""
    course = _quiz_course(user, slug)
    attempt = last_attempt(user.id, course.id)
    lessons = course_lessons(course.id)
    questions = quiz_questions(course)
    passed = quiz_passed(user.id, course.id)
    retry = (
        []
        if passed or attempt is None
        else list(attempt.answers.get("chosen", []))[: len(questions)]
    )
    wrong = list(attempt.answers.get("wrong", [])) if attempt else []
    shown = range(len(course.quiz)) if passed else [i for i in wrong if i < len(course.quiz)]
    explanations = {i: course.quiz[i].get("explanation", "") for i in shown} if attempt else {}
    answers = (
        {i: course.quiz[i]["options"][course.quiz[i]["answer"]] for i in shown} if passed else {}
    )
    return QuizPage(
        course=course,
        questions=questions,
        last_attempt=attempt,
        passed=passed,
        progress=_progress(lessons, completed_lesson_ids(user.id, course.id)),
        certificate=certificate_for(user.id, course.id),
        wrong=wrong,
        retry_choices=retry,
        explanations=explanations,
        answers=answers,
    )


def submit_quiz(user, slug: str, chosen: list, *, now: datetime | None = None) -> QuizAttempt:
    """Grade a quiz on the server: `chosen` holds one option index per question. The
    score is the percent of right answers; passing needs the course's passing_score.
    Every attempt is stored; retries are allowed; a pass checks egreso. Raises NotFound,
    NotEnrolled, InvalidInput (a question without answer or an unknown option)."""
    now = now or utcnow()
    course = _quiz_course(user, slug)
    questions = course.quiz
    if len(chosen) != len(questions) or any(c is None for c in chosen):
        raise InvalidInput("Responde todas las preguntas antes de enviar la evaluación.")
    try:
        picks = [int(c) for c in chosen]
    except (TypeError, ValueError) as exc:
        raise InvalidInput("Una de las respuestas no es válida. Vuelve a elegirla.") from exc
    if any(not 0 <= p < len(q["options"]) for p, q in zip(picks, questions, strict=True)):
        raise InvalidInput("Una de las respuestas no es válida. Vuelve a elegirla.")
    wrong = [i for i, (p, q) in enumerate(zip(picks, questions, strict=True)) if p != q["answer"]]
    score = round(100 * (len(questions) - len(wrong)) / len(questions))
    attempt = QuizAttempt(
        user_id=user.id,
        course_id=course.id,
        score=score,
        passed=score >= course.passing_score,
        answers={"chosen": picks, "wrong": wrong},
        quiz_hash=course.quiz_hash,
        created_at=now,
    )
    db.session.add(attempt)
    db.session.commit()
    if attempt.passed:
        check_completion(user, course, now=now)
    return attempt


# --- certificates -----------------------------------------------------------------------


def certificate_for(user_id: int | None, course_id: int) -> Certificate | None:
    """The person's latest certificate for a course, or None."""
    if not user_id:
        return None
    return db.session.scalars(
        select(Certificate)
        .where(Certificate.user_id == user_id, Certificate.course_id == course_id)
        .order_by(Certificate.id.desc())
    ).first()


def normalize_code(code: str) -> str:
    """A certificate code as stored: upper case letters and digits only."""
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())


def get_certificate(code: str) -> Certificate:
    """The certificate with this verification code. Raises NotFound."""
    normalized = normalize_code(code)
    certificate = None
    if 12 <= len(normalized) <= 32:
        certificate = db.session.scalar(select(Certificate).where(Certificate.code == normalized))
    if certificate is None:
        raise NotFound("No encontramos este certificado.")
    return certificate


def own_certificate(user, code: str) -> Certificate:
    """A certificate its owner may download. Raises NotFound, NotAllowed."""
    certificate = get_certificate(code)
    if certificate.user_id != user.id:
        raise NotAllowed("Solo la persona titular puede descargar este certificado.")
    return certificate


def course_certificate(user, slug: str) -> Certificate:
    """The person's certificate for a course (issuing it if egreso is done but it is
    missing). Raises NotFound."""
    course = get_course(slug)
    certificate = certificate_for(user.id, course.id) or check_completion(user, course)
    if certificate is None:
        raise NotFound(
            "Aún no tienes certificado en este curso: completa todas las "
            "lecciones y aprueba la evaluación."
        )
    return certificate


# --- "Mis cursos" -----------------------------------------------------------------------


@dataclass
class MyCourse:
    course: Course
    enrollment: object
    progress: Progress
    last_activity: datetime | None
    certificate: Certificate | None
    resume: LessonItem | None


def my_courses(user) -> list[MyCourse]:
    """Each course the person is enrolled in (or graduated from, or waiting for), with
    progress, last activity and certificate."""
    rows, seen = [], set()
    for item in enrollment.enrollments_for(user.id):
        if item.offering.kind != "course" or item.status == "cancelled" or item.offering_id in seen:
            continue
        seen.add(item.offering_id)
        course = db.session.scalar(select(Course).where(Course.offering_id == item.offering_id))
        if course is None:
            continue
        lessons = course_lessons(course.id)
        completed = completed_lesson_ids(user.id, course.id)
        activity = [
            db.session.scalar(
                select(func.max(LessonProgress.completed_at)).where(
                    LessonProgress.user_id == user.id, LessonProgress.course_id == course.id
                )
            ),
            db.session.scalar(
                select(func.max(QuizAttempt.created_at)).where(
                    QuizAttempt.user_id == user.id, QuizAttempt.course_id == course.id
                )
            ),
        ]
        activity = [as_utc(a) for a in activity if a is not None]
        rows.append(
            MyCourse(
                course=course,
                enrollment=item,
                progress=_progress(
                    lessons,
                    completed,
                    graduated=item.status == "graduated",
                    quiz_pending=course.has_quiz and not quiz_passed(user.id, course.id),
                ),
                last_activity=max(activity) if activity else None,
                certificate=certificate_for(user.id, course.id),
                resume=resume_lesson(lessons, completed),
            )
        )
    return rows


# --- personal data ----------------------------------------------------------------------


@data_exported.connect
def export_user_data(user_id: int, **_extra) -> dict:
    """The person's course data (progress, quiz attempts, certificates), nobody else's."""
    progress = db.session.execute(
        select(Course.title, Lesson.title, LessonProgress.completed_at)
        .join(Lesson, Lesson.id == LessonProgress.lesson_id)
        .join(Course, Course.id == LessonProgress.course_id)
        .where(LessonProgress.user_id == user_id)
        .order_by(LessonProgress.id)
    ).all()
    attempts = db.session.execute(
        select(Course.title, QuizAttempt.score, QuizAttempt.passed, QuizAttempt.created_at)
        .join(Course, Course.id == QuizAttempt.course_id)
        .where(QuizAttempt.user_id == user_id)
        .order_by(QuizAttempt.id)
    ).all()
    certificates = db.session.scalars(
        select(Certificate).where(Certificate.user_id == user_id).order_by(Certificate.id)
    ).all()
    return {
        "cursos": {
            "lecciones_completadas": [
                {"curso": c, "leccion": t, "fecha": as_utc(d).isoformat()} for c, t, d in progress
            ],
            "evaluaciones": [
                {"curso": c, "puntaje": s, "aprobada": p, "fecha": as_utc(d).isoformat()}
                for c, s, p, d in attempts
            ],
            "certificados": [
                {
                    "curso": x.course_title,
                    "codigo": x.code,
                    "horas": x.hours,
                    "emitido": as_utc(x.issued_at).isoformat(),
                }
                for x in certificates
            ],
        }
    }


@user_anonymized.connect
def anonymize_user(user_id: int, **_extra) -> None:
    """A deleted account's certificates keep the course and date but lose name and RUT."""
    for certificate in db.session.scalars(
        select(Certificate).where(Certificate.user_id == user_id)
    ):
        certificate.name, certificate.rut = "Persona eliminada", None
