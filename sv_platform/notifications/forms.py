"""Forms of the mail pages: asking for a recovery link, the new password, preferences."""

from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length

from sv_platform.notifications.services import DIGEST_CHOICES

REQUIRED = "Este campo es obligatorio."


class ForgotPasswordForm(FlaskForm):
    identifier = StringField(
        "RUT o correo electrónico", validators=[DataRequired(REQUIRED), Length(max=254)]
    )
    submit = SubmitField("Enviarme un enlace")


class ResetPasswordForm(FlaskForm):
    new_password = PasswordField(
        "Nueva contraseña",
        validators=[DataRequired(REQUIRED), Length(max=128)],
        description="Al menos 8 caracteres. Evita tu RUT, tu correo y claves comunes.",
    )
    confirm_password = PasswordField(
        "Repite la nueva contraseña", validators=[DataRequired(REQUIRED), Length(max=128)]
    )
    submit = SubmitField("Guardar mi nueva contraseña")


class DigestForm(FlaskForm):
    digest = SelectField(
        "Consultas nuevas de tu especialidad",
        choices={str(k): v for k, v in DIGEST_CHOICES.items()},
    )
