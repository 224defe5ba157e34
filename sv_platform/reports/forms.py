"""Survey, channel, filter and annual-survey forms. Rules live in surveys/services."""

from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, SelectMultipleField, SubmitField, TextAreaField
from wtforms.validators import Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from sv_platform.accounts import territory
from sv_platform.accounts.models import SEXES
from sv_platform.reports.models import CHANNELS, HELPED_WITH, SALES_RANGES, SERVICES

CHANNELS_LABEL = "¿Qué canales digitales usa hoy tu negocio para vender?"


class CheckboxesField(SelectMultipleField):
    """Several choices as a list of checkboxes (each with its own label)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form):
        """Unknown values are refused by the service with a Spanish message."""


class ChannelsForm(FlaskForm):
    channels = CheckboxesField(
        CHANNELS_LABEL, choices=dict(CHANNELS), description="Marca todos los que uses."
    )
    submit_channels = SubmitField("Guardar canales")


class SurveyForm(FlaskForm):
    channels = CheckboxesField(
        CHANNELS_LABEL, choices=dict(CHANNELS), description="Marca todos los que uses."
    )
    sold_last_3_months = RadioField(
        "¿Tu negocio vendió por algún canal digital en los últimos 3 meses?",
        choices={"si": "Sí", "no": "No"},
        validate_choice=False,
    )
    sales_range = SelectField(
        "¿Cuánto vende tu negocio en un mes normal?",
        choices={"": "Elige un rango", **SALES_RANGES},
        validate_choice=False,
    )
    satisfaction = RadioField(
        "¿Qué nota le pones al servicio? (1 a 7)",
        choices={str(n): str(n) for n in range(1, 8)},
        validate_choice=False,
    )
    helped_with = CheckboxesField(
        "¿En qué te ayudó?", choices=dict(HELPED_WITH), description="Marca todo lo que aplique."
    )
    comment = TextAreaField(
        "Comentario (opcional)",
        validators=[
            Optional(),
            Length(max=1000, message="El comentario puede tener hasta 1000 caracteres."),
        ],
    )
    submit = SubmitField("Enviar respuesta")


class FilterForm(FlaskForm):
    """The dashboard's GET filters (no CSRF: it changes nothing)."""

    class Meta:
        csrf = False

    year = SelectField("Año", coerce=int, choices=[])
    service = SelectField("Servicio", choices={"": "Todos los servicios", **SERVICES})
    region = SelectField("Región", choices=[])
    sex = SelectField("Sexo", choices={"": "Todos", **SEXES})
    publish = SelectField(
        "Vista", choices={"": "Cifras exactas (uso interno)", "1": "Para publicar (<5)"}
    )
    submit = SubmitField("Ver cifras")

    def __init__(self, years: list[int], *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.year.choices = {y: str(y) for y in years}
        self.region.choices = {"": "Todo el país", **territory.region_names()}


class AnnualSurveyForm(FlaskForm):
    year = SelectField("Año de la encuesta", coerce=int, choices=[])
    submit = SubmitField("Abrir encuesta anual")

    def __init__(self, years: list[int], *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.year.choices = {y: str(y) for y in years}
