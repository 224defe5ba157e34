"""Where a person continues each course she holds a cupo in, in a fixed number of queries."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, func, select

from sv_platform.core.timeutil import as_utc
from sv_platform.courses.models import Course, Lesson, LessonProgress, QuizAttempt
from sv_platform.courses.services import (
    LessonItem,
    Progress,
    _progress,
    lesson_item_columns,
    resume_lesson,
)
from sv_platform.extensions import db


@dataclass(frozen=True)
class CourseToContinue:
    """An active course: its progress and the next step (a lesson, or the quiz when every
    lesson is done)."""

    course: Course
    progress: Progress
    next_lesson: LessonItem | None
    last_activity: datetime | None

    @property
    def quiz_next(self) -> bool:
        return self.next_lesson is None and self.progress.quiz_pending


def courses_to_continue(user_id: int, offering_ids: list[int]) -> list[CourseToContinue]:
    """The courses of these offerings (the person's active course enrolments), most recently
    worked on first, with the same progress rule as "Mis cursos" (current lessons done; the
    quiz pending once they are all done). Four queries, however many courses."""
    if not offering_ids:
        return []
    courses = list(
        db.session.scalars(
            select(Course).where(Course.offering_id.in_(offering_ids), Course.retired_at.is_(None))
        )
    )
    if not courses:
        return []
    course_ids = [c.id for c in courses]
    lessons: dict[int, list[LessonItem]] = defaultdict(list)
    for course_id, *fields in db.session.execute(
        select(Lesson.course_id, *lesson_item_columns())
        .where(Lesson.course_id.in_(course_ids), Lesson.retired_at.is_(None))
        .order_by(Lesson.course_id, Lesson.position)
    ):
        lessons[course_id].append(LessonItem(*fields))
    completed: dict[int, set[int]] = defaultdict(set)
    activity: dict[int, datetime] = {}
    for course_id, lesson_id, done_at in db.session.execute(
        select(
            LessonProgress.course_id, LessonProgress.lesson_id, LessonProgress.completed_at
        ).where(LessonProgress.user_id == user_id, LessonProgress.course_id.in_(course_ids))
    ):
        completed[course_id].add(lesson_id)
        done_at = as_utc(done_at)
        if course_id not in activity or done_at > activity[course_id]:
            activity[course_id] = done_at
    passed = set()
    for course_id, any_passed, last_try in db.session.execute(
        select(
            QuizAttempt.course_id,
            func.max(QuizAttempt.passed.cast(Integer)),
            func.max(QuizAttempt.created_at),
        )
        .where(QuizAttempt.user_id == user_id, QuizAttempt.course_id.in_(course_ids))
        .group_by(QuizAttempt.course_id)
    ):
        if any_passed:
            passed.add(course_id)
        last_try = as_utc(last_try)
        if course_id not in activity or last_try > activity[course_id]:
            activity[course_id] = last_try
    rows = [
        CourseToContinue(
            course=course,
            progress=_progress(
                lessons[course.id],
                completed[course.id],
                quiz_pending=course.has_quiz and course.id not in passed,
            ),
            next_lesson=resume_lesson(lessons[course.id], completed[course.id]),
            last_activity=activity.get(course.id),
        )
        for course in courses
    ]
    rows.sort(key=lambda r: (r.last_activity is not None, r.last_activity or 0), reverse=True)
    return rows
