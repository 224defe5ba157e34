"""Admin forms for enrolment windows."""

from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from sv_platform.accounts import territory

REQUIRED = "Este campo es obligatorio."


class WindowForm(FlaskForm):
    name = StringField("Nombre de la ventana", validators=[DataRequired(REQUIRED), Length(max=120)])
    capacity = IntegerField(
        "Cupos",
        validators=[
            InputRequired("Indica cuántos cupos tiene la ventana."),
            NumberRange(min=0, max=1_000_000, message="Los cupos deben estar entre 0 y 1.000.000."),
        ],
    )
    region_code = SelectField("Región", choices=[], validate_choice=True)
    opens_on = DateField("Abre el", validators=[InputRequired(REQUIRED)], format="%Y-%m-%d")
    closes_on = DateField("Cierra el", validators=[InputRequired(REQUIRED)], format="%Y-%m-%d")
    submit = SubmitField("Guardar ventana")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.region_code.choices = territory.region_choices("Nacional (todas las regiones)")
