"""Forms every domain's pages share."""

from flask_wtf import FlaskForm
from wtforms import SubmitField


class ConfirmForm(FlaskForm):
    """An empty form: a button that only carries the CSRF token."""

    submit = SubmitField("Confirmar")
