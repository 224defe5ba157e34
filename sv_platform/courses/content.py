"""Read and validate course content files (no database access): courses/<slug>/..."""

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import yaml

from sv_platform.core import content_review
from sv_platform.courses.models import AREAS

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
LESSON_FILE_RE = re.compile(r"^(\d{1,3})-([a-z0-9]+(?:-[a-z0-9]+)*)\.md$")
# Lesson slugs that would collide with the course's own sub-pages.
RESERVED_SLUGS = {"evaluacion", "certificado"}


@dataclass
class LessonData:
    slug: str
    title: str
    minutes: int
    body_md: str
    reviewed_on: date | None = None
    sources: list[dict] = field(default_factory=list)
    module_index: int = 0
    position: int = 0
    path: Path | None = None  # where it was read from (for warnings), not part of the hash
    body_line: int = 1  # line of the file where the body starts

    @property
    def content_hash(self) -> str:
        return _hash(
            {
                "title": self.title,
                "minutes": self.minutes,
                "body": self.body_md,
                "revisado": _iso(self.reviewed_on),
                "fuentes": self.sources,
            }
        )


@dataclass
class CourseData:
    slug: str
    title: str
    summary: str
    area: str
    hours: int
    passing_score: int
    modules: list[str] = field(default_factory=list)
    lessons: list[LessonData] = field(default_factory=list)
    quiz: list[dict] = field(default_factory=list)
    reviewed_on: date | None = None
    sources: list[dict] = field(default_factory=list)
    quiz_reviewed_on: date | None = None
    quiz_sources: list[dict] = field(default_factory=list)
    path: Path | None = None  # the course folder

    @property
    def quiz_hash(self) -> str:
        return _hash(self.quiz)

    @property
    def content_hash(self) -> str:
        return _hash(
            {
                "title": self.title,
                "summary": self.summary,
                "area": self.area,
                "hours": self.hours,
                "passing_score": self.passing_score,
                "modules": self.modules,
                "quiz": self.quiz,
                "revisado": _iso(self.reviewed_on),
                "fuentes": self.sources,
                "quiz_revisado": _iso(self.quiz_reviewed_on),
                "quiz_fuentes": self.quiz_sources,
                "lessons": [
                    (x.slug, x.module_index, x.position, x.content_hash) for x in self.lessons
                ],
            }
        )


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _hash(value) -> str:
    raw = json.dumps(value, ensure_ascii=False, sort_keys=True).encode()
    return hashlib.sha256(raw).hexdigest()


class ContentProblems:
    """Collects "file, línea N: message" problems across every file before any write."""

    def __init__(self, root: Path):
        self.root = root
        self.items: list[str] = []

    def add(self, path: Path, line: int | None, message: str) -> None:
        try:
            name = path.relative_to(self.root).as_posix()
        except ValueError:
            name = str(path)
        where = f"{name}, línea {line}" if line else name
        self.items.append(f"{where}: {message}")


# --- YAML helpers with line numbers -----------------------------------------------------


def _parse_yaml(text: str, path: Path, problems: ContentProblems, line_offset: int = 0):
    """(value, node) or (None, None) after recording a syntax problem with its line."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        value = yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 + line_offset if mark else None
        problem = error.problem or error.context or "YAML no válido"
        problems.add(path, line, f"YAML no válido ({problem}).")
        return None, None
    except yaml.YAMLError as error:
        problems.add(path, None, f"YAML no válido ({error}).")
        return None, None
    return value, node


def _line(node, offset: int = 0) -> int | None:
    return node.start_mark.line + 1 + offset if node is not None else None


def _child(node, key: str):
    """The value node for `key` in a mapping node (None when absent)."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if getattr(key_node, "value", None) == key:
                return value_node
    return None


def _key_line(node, key: str, offset: int = 0) -> int | None:
    """Line of `key` in a mapping node, or of the mapping itself when the key is missing."""
    if isinstance(node, yaml.MappingNode):
        for key_node, _value in node.value:
            if getattr(key_node, "value", None) == key:
                return _line(key_node, offset)
    return _line(node, offset)


def _item(node, index: int):
    if isinstance(node, yaml.SequenceNode) and index < len(node.value):
        return node.value[index]
    return node


def _text(value) -> str | None:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        text = str(value).strip()
        return text or None
    return None


def _positive_int(value, *, minimum=1, maximum=10_000) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if minimum <= value <= maximum else None


def _review_fields(data: dict, node, path: Path, problems, offset: int = 0):
    """(revisado, fuentes) of a content file; records a problem when `revisado` is missing
    or malformed or a source is not a deep https link. Returns (None, []) on error."""
    reviewed_on = content_review.review_date(data.get("revisado"))
    if "revisado" not in data or data.get("revisado") in (None, ""):
        problems.add(
            path,
            _key_line(node, "revisado", offset) or 1,
            "falta la fecha de revisión (revisado: AAAA-MM-DD), el día en que se "
            "comprobaron sus datos.",
        )
    elif reviewed_on is None:
        problems.add(
            path,
            _key_line(node, "revisado", offset) or 1,
            "la fecha de revisión (revisado) debe ser una fecha AAAA-MM-DD.",
        )
    sources, ok = content_review.read_sources(data.get("fuentes"))
    if not ok:
        problems.add(path, _key_line(node, "fuentes", offset) or 1, content_review.SOURCES_MESSAGE)
    return reviewed_on, sources


# --- files ------------------------------------------------------------------------------


def read_courses(root: Path) -> tuple[list[CourseData], list[str]]:
    """Every course under `root/courses`, validated. Returns (courses, problems)."""
    base = Path(root) / "courses"
    problems = ContentProblems(Path(root))
    courses = []
    if not base.is_dir():
        return courses, problems.items
    for folder in sorted(p for p in base.iterdir() if p.is_dir()):
        if folder.name.startswith("."):
            continue
        course = _read_course(folder, problems)
        if course is not None:
            courses.append(course)
    return courses, problems.items


def _read_course(folder: Path, problems: ContentProblems) -> CourseData | None:
    before = len(problems.items)
    course_file = folder / "course.yml"
    if not SLUG_RE.match(folder.name):
        problems.add(
            folder,
            None,
            "el nombre de la carpeta debe ser un slug en minúsculas (letras, números y guiones).",
        )
    if not course_file.exists():
        problems.add(course_file, None, "falta el archivo course.yml.")
        return None
    data, node = _parse_yaml(course_file.read_text(encoding="utf-8"), course_file, problems)
    if node is None:
        return None
    if not isinstance(data, dict):
        problems.add(
            course_file,
            _line(node),
            "debe ser un mapa con title, summary, area, hours, passing_score y modules.",
        )
        return None

    def need_text(key: str, label: str):
        value = _text(data.get(key))
        if value is None:
            problems.add(course_file, _key_line(node, key), f"falta {label} ({key}).")
        return value

    title = need_text("title", "el título")
    summary = need_text("summary", "el resumen")
    area = data.get("area")
    if area not in AREAS:
        problems.add(
            course_file, _key_line(node, "area"), f"el área debe ser una de: {', '.join(AREAS)}."
        )
    hours = _positive_int(data.get("hours"), maximum=1000)
    if hours is None:
        problems.add(
            course_file,
            _key_line(node, "hours"),
            "las horas (hours) deben ser un número entero mayor que cero.",
        )
    passing = _positive_int(data.get("passing_score"), maximum=100)
    if passing is None:
        problems.add(
            course_file,
            _key_line(node, "passing_score"),
            "el puntaje de aprobación (passing_score) debe ser un entero entre 1 y 100.",
        )

    reviewed_on, sources = _review_fields(data, node, course_file, problems)
    module_titles, listed = _read_modules(data, node, course_file, problems)
    lessons = _read_lessons(folder, listed, problems)
    quiz, quiz_reviewed_on, quiz_sources = _read_quiz(folder, problems)
    if len(problems.items) > before:
        return None
    return CourseData(
        slug=folder.name,
        title=title,
        summary=summary,
        area=area,
        hours=hours,
        passing_score=passing,
        modules=module_titles,
        lessons=lessons,
        quiz=quiz,
        reviewed_on=reviewed_on,
        sources=sources,
        quiz_reviewed_on=quiz_reviewed_on,
        quiz_sources=quiz_sources,
        path=folder,
    )


def _read_modules(data, node, path, problems) -> tuple[list[str], dict[str, tuple]]:
    """Module titles and {lesson slug: (module index, line)} in listed order."""
    modules = data.get("modules")
    modules_node = _child(node, "modules")
    titles, listed = [], {}
    if not isinstance(modules, list) or not modules:
        problems.add(
            path,
            _key_line(node, "modules"),
            "falta la lista de módulos (modules) con sus lecciones.",
        )
        return titles, listed
    for index, module in enumerate(modules):
        module_node = _item(modules_node, index)
        if not isinstance(module, dict):
            problems.add(path, _line(module_node), "cada módulo debe tener title y lessons.")
            continue
        title = _text(module.get("title"))
        if title is None:
            problems.add(
                path,
                _key_line(module_node, "title"),
                f"al módulo {index + 1} le falta el título (title).",
            )
        titles.append(title or "")
        lessons = module.get("lessons")
        lessons_node = _child(module_node, "lessons")
        if not isinstance(lessons, list) or not lessons:
            problems.add(
                path,
                _key_line(module_node, "lessons"),
                f"el módulo {index + 1} no tiene lecciones (lessons).",
            )
            continue
        for position, slug in enumerate(lessons):
            line = _line(_item(lessons_node, position))
            if not isinstance(slug, str) or not SLUG_RE.match(slug):
                problems.add(path, line, f"«{slug}» no es un slug de lección válido.")
            elif slug in listed:
                problems.add(path, line, f"la lección «{slug}» aparece en más de un lugar.")
            else:
                listed[slug] = (index, line)
    return titles, listed


def _read_lessons(folder: Path, listed: dict, problems) -> list[LessonData]:
    found: dict[str, LessonData] = {}
    for path in sorted(folder.glob("*.md")):
        match = LESSON_FILE_RE.match(path.name)
        if not match:
            problems.add(
                path,
                None,
                "el nombre debe ser NN-slug-de-la-leccion.md (número, guion y slug en minúsculas).",
            )
            continue
        slug = match.group(2)
        if slug in RESERVED_SLUGS:
            problems.add(path, None, f"«{slug}» es un nombre reservado; usa otro slug.")
            continue
        if slug in found:
            problems.add(path, None, f"hay dos archivos para la lección «{slug}».")
            continue
        lesson = _read_lesson(path, slug, problems)
        if lesson is not None:
            found[slug] = lesson
        if slug not in listed:
            problems.add(path, None, "esta lección no aparece en ningún módulo de course.yml.")
    course_file = folder / "course.yml"
    for slug, (_module, line) in listed.items():
        if slug not in found and not any(
            p.name.endswith(f"-{slug}.md") for p in folder.glob("*.md")
        ):
            problems.add(
                course_file, line, f"no existe el archivo de la lección «{slug}» (NN-{slug}.md)."
            )
    lessons = []
    for position, (slug, (module_index, _line_no)) in enumerate(listed.items()):
        if slug in found:
            lesson = found[slug]
            lesson.module_index, lesson.position = module_index, position
            lessons.append(lesson)
    return lessons


def _read_lesson(path: Path, slug: str, problems) -> LessonData | None:
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        problems.add(
            path, 1, "debe comenzar con un encabezado YAML entre líneas «---» (title y minutes)."
        )
        return None
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
    if end is None:
        problems.add(path, 1, "el encabezado YAML no se cierra con una línea «---».")
        return None
    header = "".join(lines[1:end])
    data, node = _parse_yaml(header, path, problems, line_offset=1)
    if node is None and data is None and header.strip():
        return None
    if not isinstance(data, dict):
        problems.add(path, 1, "el encabezado debe tener title y minutes.")
        return None
    ok = True
    title = _text(data.get("title"))
    if title is None:
        problems.add(path, _key_line(node, "title", 1) or 1, "falta el título (title).")
        ok = False
    minutes = _positive_int(data.get("minutes"), maximum=600)
    if minutes is None:
        problems.add(
            path,
            _key_line(node, "minutes", 1) or 1,
            "los minutos (minutes) deben ser un número entero mayor que cero.",
        )
        ok = False
    before = len(problems.items)
    reviewed_on, sources = _review_fields(data, node, path, problems, 1)
    ok = ok and len(problems.items) == before
    raw_body = "".join(lines[end + 1 :])
    body = raw_body.strip("\n")
    if not body.strip():
        problems.add(path, end + 2, "la lección no tiene contenido.")
        ok = False
    if not ok:
        return None
    leading = len(raw_body) - len(raw_body.lstrip("\n"))
    return LessonData(
        slug=slug,
        title=title,
        minutes=minutes,
        body_md=body + "\n",
        reviewed_on=reviewed_on,
        sources=sources,
        path=path,
        body_line=end + 2 + leading,
    )


def _read_quiz(folder: Path, problems) -> tuple[list[dict], date | None, list[dict]]:
    """(questions as {"text", "options", "answer": index, "explanation"}, revisado,
    fuentes); no quiz.yml means no quiz. The explanation tells why the right answer is
    right, shown after an attempt."""
    path = folder / "quiz.yml"
    if not path.exists():
        return [], None, []
    data, node = _parse_yaml(path.read_text(encoding="utf-8"), path, problems)
    if node is None:
        return [], None, []
    questions = data.get("questions") if isinstance(data, dict) else None
    questions_node = _child(node, "questions")
    if not isinstance(questions, list) or not questions:
        problems.add(path, _key_line(node, "questions"), "falta la lista de preguntas (questions).")
        return [], None, []
    reviewed_on, sources = _review_fields(data, node, path, problems)
    quiz = []
    for index, question in enumerate(questions):
        q_node = _item(questions_node, index)
        number = index + 1
        if not isinstance(question, dict):
            problems.add(
                path, _line(q_node), f"la pregunta {number} debe tener text, options y answer."
            )
            continue
        text = _text(question.get("text"))
        if text is None:
            problems.add(
                path,
                _key_line(q_node, "text"),
                f"a la pregunta {number} le falta el enunciado (text).",
            )
        options = question.get("options")
        clean = [_text(o) for o in options] if isinstance(options, list) else []
        if len(clean) < 2 or any(o is None for o in clean):
            problems.add(
                path,
                _key_line(q_node, "options"),
                f"la pregunta {number} necesita al menos dos opciones (options).",
            )
            continue
        if len(set(clean)) != len(clean):
            problems.add(
                path,
                _key_line(q_node, "options"),
                f"la pregunta {number} tiene opciones repetidas.",
            )
            continue
        answer = _text(question.get("answer"))
        if answer is None:
            problems.add(
                path,
                _key_line(q_node, "answer"),
                f"a la pregunta {number} le falta la respuesta correcta (answer).",
            )
            continue
        if answer not in clean:
            problems.add(
                path,
                _key_line(q_node, "answer"),
                f"la respuesta «{answer}» de la pregunta {number} no está entre sus opciones.",
            )
            continue
        explanation = _text(question.get("explanation"))
        if explanation is None:
            problems.add(
                path,
                _key_line(q_node, "explanation") if "explanation" in question else _line(q_node),
                f"a la pregunta {number} le falta la explicación de la respuesta (explanation).",
            )
            continue
        if text is not None:
            quiz.append(
                {
                    "text": text,
                    "options": clean,
                    "answer": clean.index(answer),
                    "explanation": explanation,
                }
            )
    return quiz, reviewed_on, sources


# --- staying true -----------------------------------------------------------------------


def review_warnings(courses: list[CourseData], root: Path, today: date) -> list[str]:
    """ "file, línea N: reason" for every course file due for review on `today` (not reviewed
    in the last 12 months, or wording that treats a past date as current). Warnings only:
    the content still loads."""
    problems = ContentProblems(Path(root))
    for course in courses:
        folder = course.path or Path(root) / "courses" / course.slug
        text = f"{course.title}\n{course.summary}"
        _warn(problems, folder / "course.yml", course.reviewed_on, text, None, today)
        if course.quiz:
            text = "\n".join("\n".join([q["text"], *q["options"]]) for q in course.quiz)
            _warn(problems, folder / "quiz.yml", course.quiz_reviewed_on, text, None, today)
        for lesson in course.lessons:
            path = lesson.path or folder / f"{lesson.slug}.md"
            _warn(problems, path, lesson.reviewed_on, lesson.body_md, lesson.body_line, today)
            _warn(problems, path, None, lesson.title, 2, today, age=False)
    return problems.items


def _warn(problems, path, reviewed_on, text, first_line, today, *, age=True) -> None:
    if age:
        reason = content_review.age_problem(reviewed_on, today)
        if reason:
            problems.add(path, None, reason)
    for offset, reason in content_review.dated_phrases(text, today):
        line = first_line + text.count("\n", 0, offset) if first_line else None
        problems.add(path, line, reason)
