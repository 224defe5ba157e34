"""Courses, modules, lessons, progress (avance), quiz attempts and certificates."""

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sv_platform.core.timeutil import UTCDateTime, utcnow
from sv_platform.extensions import db

AREAS = {
    "digital": "Comercio digital",
    "legal": "Legal y formalización",
    "sustainability": "Sustentabilidad",
}


class Course(db.Model):
    """One course, imported from `courses/<slug>/`. The quiz lives in `quiz` (JSON)."""

    __tablename__ = "course"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    area: Mapped[str] = mapped_column(String(20))
    hours: Mapped[int]
    passing_score: Mapped[int]
    # [{"text": ..., "options": [...], "answer": <index>}]; never sent to the browser.
    quiz: Mapped[list] = mapped_column(JSON, default=list)
    quiz_hash: Mapped[str] = mapped_column(String(64))
    content_hash: Mapped[str] = mapped_column(String(64))
    offering_id: Mapped[int] = mapped_column(ForeignKey("offering.id"))
    # `revisado` and `fuentes` of course.yml and of quiz.yml: [{"nombre", "url"}]
    reviewed_on: Mapped[date | None] = mapped_column(Date)
    sources: Mapped[list | None] = mapped_column(JSON)
    quiz_reviewed_on: Mapped[date | None] = mapped_column(Date)
    quiz_sources: Mapped[list | None] = mapped_column(JSON)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    offering = relationship("Offering")
    modules: Mapped[list["CourseModule"]] = relationship(
        back_populates="course", order_by="CourseModule.position"
    )

    @property
    def area_label(self) -> str:
        return AREAS.get(self.area, self.area)

    @property
    def has_quiz(self) -> bool:
        return bool(self.quiz)


class CourseModule(db.Model):
    __tablename__ = "course_module"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), index=True)
    position: Mapped[int]
    title: Mapped[str] = mapped_column(String(200))

    course: Mapped[Course] = relationship(back_populates="modules")


class Lesson(db.Model):
    """A lesson keeps its identity (id) by slug across imports; removed ones are retired."""

    __tablename__ = "lesson"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"))
    module_id: Mapped[int | None] = mapped_column(ForeignKey("course_module.id"))
    slug: Mapped[str] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(200))
    minutes: Mapped[int]
    position: Mapped[int]
    body_md: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    # When its facts were last checked (`revisado`) and the pages behind them (`fuentes`).
    reviewed_on: Mapped[date | None] = mapped_column(Date)
    sources: Mapped[list | None] = mapped_column(JSON)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    course: Mapped[Course] = relationship()
    module: Mapped[CourseModule | None] = relationship()

    __table_args__ = (UniqueConstraint("course_id", "slug", name="uq_lesson_course_slug"),)

    @property
    def is_retired(self) -> bool:
        return self.retired_at is not None


class LessonProgress(db.Model):
    """Avance: a lesson completed by a user (at most one row per user and lesson)."""

    __tablename__ = "lesson_progress"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lesson.id"))
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"))
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    lesson: Mapped[Lesson] = relationship()

    __table_args__ = (
        UniqueConstraint("user_id", "lesson_id", name="uq_lesson_progress_user_lesson"),
        Index("ix_lesson_progress_user_course", "user_id", "course_id"),
    )


class QuizAttempt(db.Model):
    """One graded submission of a course's quiz (retries allowed)."""

    __tablename__ = "quiz_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"))
    score: Mapped[int]
    passed: Mapped[bool]
    # {"chosen": [option index, ...], "wrong": [question index, ...]}
    answers: Mapped[dict] = mapped_column(JSON)
    quiz_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (Index("ix_quiz_attempt_user_course", "user_id", "course_id"),)


class Certificate(db.Model):
    """Issued exactly once per graduated enrolment; name/RUT/hours are a snapshot."""

    __tablename__ = "certificate"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"))
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollment.id"), unique=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    name: Mapped[str] = mapped_column(String(120))
    rut: Mapped[str | None] = mapped_column(String(12))
    course_title: Mapped[str] = mapped_column(String(200))
    hours: Mapped[int]

    course: Mapped[Course] = relationship()
