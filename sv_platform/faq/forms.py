"""FAQ forms: the admin editor (the "¿Te sirvió?" vote uses ConfirmForm). Rules live in
services."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from sv_platform.faq.models import AREAS
from sv_platform.faq.services import ANSWER_MAX, QUESTION_MAX

REQUIRED = "Este campo es obligatorio."


class EntryForm(FlaskForm):
    question = StringField(
        "Pregunta",
        validators=[DataRequired(REQUIRED), Length(max=QUESTION_MAX)],
        description="Como la escribiría una persona emprendedora.",
    )
    answer = TextAreaField(
        "Respuesta",
        validators=[DataRequired(REQUIRED), Length(max=ANSWER_MAX)],
        render_kw={"rows": 14},
        description="Formato: negritas con **así**, listas con «-» al inicio de la línea, "
        "enlaces como [texto](https://…). Usa «Vista previa» para revisarla.",
    )
    area = SelectField(
        "Área",
        choices={"": "Elige un área", **AREAS},
        validators=[DataRequired(REQUIRED)],
        validate_choice=False,
    )  # the service checks it, with a clear message
    tags = StringField(
        "Etiquetas",
        validators=[Optional(), Length(max=800)],
        description="Separadas por comas, por ejemplo: boleta, honorarios, SII.",
    )
    published = BooleanField("Publicada (visible para todas las personas)")
    preview = SubmitField("Vista previa")
    submit = SubmitField("Guardar")

    def tag_list(self) -> list[str]:
        return [t.strip() for t in (self.tags.data or "").split(",") if t.strip()]
