"""Advisory forms: they parse and describe fields; the rules live in services."""

from flask_wtf import FlaskForm
from wtforms import (
    HiddenField,
    IntegerField,
    MultipleFileField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from sv_platform.advisory.models import AREAS

REQUIRED = "Este campo es obligatorio."


class ConsultationForm(FlaskForm):
    area = SelectField(
        "Área de la consulta",
        choices={
            "": "Elige un área",
            "legal": "Asesoría legal",
            "sustainability": "Asesoría en sustentabilidad",
        },
        validators=[InputRequired(REQUIRED)],
    )
    subject = StringField(
        "Asunto",
        validators=[InputRequired(REQUIRED), Length(max=200)],
        description="En una frase (al menos 8 caracteres): ¿qué necesitas saber?",
    )
    description = TextAreaField(
        "Describe tu consulta",
        validators=[InputRequired(REQUIRED)],
        description="Al menos 20 caracteres. Cuéntanos el contexto; puedes usar **negrita** "
        "y listas. No incluyas claves ni datos bancarios.",
    )
    attachments = MultipleFileField(
        "Archivos adjuntos (opcional)", description="Hasta 3 archivos PDF, JPG o PNG."
    )
    suggest = SubmitField("Ver preguntas similares")
    submit = SubmitField("Enviar consulta")


class MessageForm(FlaskForm):
    # Text or files: the service says what is missing (a message may be only a file).
    body = TextAreaField("Tu mensaje", validators=[Optional()])
    attachments = MultipleFileField("Adjuntar archivos (opcional)")
    client_msg_id = HiddenField()
    submit = SubmitField("Enviar mensaje")


class NoteForm(FlaskForm):
    """Used with prefix "nota": its field is `nota-body`, never the chat's `body`."""

    body = TextAreaField(
        "Nota interna (solo la ve el equipo asesor)",
        validators=[InputRequired("Escribe la nota antes de guardarla.")],
    )
    submit = SubmitField("Guardar nota")


class AvailabilityForm(FlaskForm):
    available = HiddenField()
    submit = SubmitField("Cambiar")


class CloseForm(FlaskForm):
    rating = SelectField(
        "¿Cómo evalúas la asesoría?",
        choices={
            "": "Elige una nota",
            "5": "5 — Excelente",
            "4": "4 — Buena",
            "3": "3 — Regular",
            "2": "2 — Mala",
            "1": "1 — Muy mala",
        },
        validators=[InputRequired("Elige una calificación de 1 a 5.")],
    )
    comment = TextAreaField("Comentario (opcional)", validators=[Optional(), Length(max=1000)])
    submit = SubmitField("Cerrar y calificar")


class AssignForm(FlaskForm):
    advisor_id = SelectField("Asignar a", coerce=int, validate_choice=False)
    submit = SubmitField("Asignar")


class ServiceLevelForm(FlaskForm):
    first_response_days = IntegerField(
        "Primera respuesta (días hábiles)",
        validators=[InputRequired(REQUIRED), NumberRange(1, 30, "Entre 1 y 30 días hábiles.")],
    )
    resolution_days = IntegerField(
        "Resolución (días hábiles)",
        validators=[InputRequired(REQUIRED), NumberRange(1, 60, "Entre 1 y 60 días hábiles.")],
    )
    submit = SubmitField("Guardar")


class FaqForm(FlaskForm):
    question = StringField("Pregunta", validators=[InputRequired(REQUIRED), Length(max=300)])
    answer = TextAreaField(
        "Respuesta",
        validators=[InputRequired(REQUIRED)],
        description="Revisa y quita nombres, RUT, montos o cualquier dato "
        "que identifique a la persona.",
    )
    tags = StringField("Etiquetas (separadas por comas, opcional)", validators=[Optional()])
    submit = SubmitField("Enviar a aprobación")


AREA_NAMES = AREAS
