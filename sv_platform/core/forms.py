"""Forms every domain's pages share."""

from flask_wtf import FlaskForm
from wtforms import SubmitField, TextAreaField
from wtforms.validators import Length


class ConfirmForm(FlaskForm):
    """An empty form: a button that only carries the CSRF token."""

    submit = SubmitField("Confirmar")


class ReasonForm(FlaskForm):
    """A confirmation that carries a reason (the service decides whether it is required)."""

    reason = TextAreaField(
        "Motivo",
        validators=[Length(max=300, message="El motivo puede tener hasta 300 caracteres.")],
    )
    submit = SubmitField("Confirmar")
