"""FAQ forms: the admin editor and the "¿Te sirvió?" vote. Rules live in services."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from sv_platform.faq.models import AREAS

REQUIRED = "Este campo es obligatorio."


class EntryForm(FlaskForm):
    question = StringField("Pregunta", validators=[DataRequired(REQUIRED), Length(max=300)],
                           description="Como la escribiría una persona emprendedora.")
    answer = TextAreaField("Respuesta", validators=[DataRequired(REQUIRED),
                                                    Length(max=20_000)],
                           render_kw={"rows": 14},
                           description="En Markdown: **negrita**, listas con «-», enlaces "
                                       "[texto](https://…). Usa «Vista previa» para revisarla.")
    area = SelectField("Área", choices={"": "Elige un área", **AREAS},
                       validators=[DataRequired(REQUIRED)],
                       validate_choice=False)  # the service checks it, with a clear message
    tags = StringField("Etiquetas", validators=[Optional(), Length(max=800)],
                       description="Separadas por comas, por ejemplo: boleta, honorarios, SII.")
    published = BooleanField("Publicada (visible para todas las personas)")
    preview = SubmitField("Vista previa")
    submit = SubmitField("Guardar")

    def tag_list(self) -> list[str]:
        return [t.strip() for t in (self.tags.data or "").split(",") if t.strip()]


class VoteForm(FlaskForm):
    """Two buttons: name="helpful" value "si" or "no"."""
