"""Catalog filter, "mark as completed" and the quiz form (built per course)."""

from flask_wtf import FlaskForm
from wtforms import RadioField, SearchField, SelectField, SubmitField
from wtforms.validators import InputRequired, Length

from sv_platform.courses.models import AREAS


class CatalogFilterForm(FlaskForm):
    """GET filter: no CSRF (it changes nothing)."""

    class Meta:
        csrf = False

    q = SearchField("Buscar cursos", validators=[Length(max=100)])
    area = SelectField("Área", choices={"": "Todas las áreas", **AREAS}, validate_choice=False)
    submit = SubmitField("Buscar")


class CompleteLessonForm(FlaskForm):
    submit = SubmitField("Marcar como completada")


def quiz_form(questions: list[dict], formdata=None):
    """A form with one radio group per question (`q0`, `q1`, ...); values are option
    indexes, so the page never says which option is right."""

    class QuizForm(FlaskForm):
        submit = SubmitField("Enviar respuestas")

    for index, question in enumerate(questions):
        setattr(
            QuizForm,
            f"q{index}",
            RadioField(
                question["text"],
                choices={str(i): option for i, option in enumerate(question["options"])},
                validators=[InputRequired("Elige una respuesta para esta pregunta.")],
            ),
        )
    form = QuizForm() if formdata is None else QuizForm(formdata=formdata)
    form.question_fields = [form[f"q{i}"] for i in range(len(questions))]
    return form
