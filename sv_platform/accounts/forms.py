"""Account forms. Business rules live in services; forms only parse and describe fields."""

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TelField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from sv_platform.accounts import territory
from sv_platform.accounts.models import COMPANY_SIZES, EDUCATION_LEVELS, SECTORS, SEXES

REQUIRED = "Este campo es obligatorio."


def _choices(mapping: dict, prompt: str) -> dict[str, str]:
    return {"": prompt, **mapping}


class TerritoryMixin:
    def fill_territory(self, region_field, comuna_field):
        region_field.choices = territory.region_choices()
        comuna_field.choices = territory.comuna_choices()


class PersonFields(FlaskForm, TerritoryMixin):
    name = StringField("Nombre completo", validators=[DataRequired(REQUIRED), Length(max=120)])
    email = EmailField("Correo electrónico", validators=[DataRequired(REQUIRED), Length(max=254)])
    phone = TelField(
        "Teléfono",
        validators=[DataRequired(REQUIRED), Length(max=20)],
        description="Ejemplo: +56 9 6123 4567",
    )
    region_code = SelectField("Región", validators=[DataRequired(REQUIRED)], choices=[])
    comuna_code = SelectField(
        "Comuna", validators=[DataRequired(REQUIRED)], choices=[], validate_choice=False
    )
    sex = SelectField(
        "Sexo", validators=[DataRequired(REQUIRED)], choices=_choices(SEXES, "Elige una opción")
    )
    birth_date = DateField(
        "Fecha de nacimiento", validators=[InputRequired(REQUIRED)], format="%Y-%m-%d"
    )
    education_level = SelectField(
        "Nivel educacional",
        validators=[DataRequired(REQUIRED)],
        choices=_choices(EDUCATION_LEVELS, "Elige una opción"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fill_territory(self.region_code, self.comuna_code)


class RegistrationForm(PersonFields):
    rut = StringField(
        "RUT",
        validators=[DataRequired(REQUIRED), Length(max=14)],
        description="Con o sin puntos y guion, por ejemplo 12.345.678-5",
    )
    password = PasswordField(
        "Contraseña",
        validators=[DataRequired(REQUIRED), Length(max=128)],
        description="Al menos 8 caracteres. Evita tu RUT, tu correo y claves comunes.",
    )
    channels = SelectMultipleField(
        "¿Qué canales digitales usa hoy tu negocio para vender?",
        choices=[],
        validate_choice=False,  # the reports service checks the options
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        description="Marca todos los que uses.",
    )
    consent = BooleanField("Acepto el uso de mis datos personales según la política de privacidad")
    submit = SubmitField("Crear mi cuenta")

    field_order = (
        "rut",
        "name",
        "email",
        "phone",
        "password",
        "region_code",
        "comuna_code",
        "sex",
        "birth_date",
        "education_level",
        "channels",
        "consent",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from sv_platform.reports.models import CHANNELS

        self.channels.choices = dict(CHANNELS)


class ProfileForm(PersonFields):
    submit = SubmitField("Guardar mis datos")


class CompanyForm(FlaskForm, TerritoryMixin):
    company_rut = StringField("RUT empresa", validators=[Optional(), Length(max=14)])
    legal_name = StringField("Razón social", validators=[Optional(), Length(max=200)])
    sector = SelectField("Actividad económica", choices=_choices(SECTORS, "Elige una actividad"))
    company_region = SelectField("Región de la empresa", choices=[])
    company_comuna = SelectField("Comuna de la empresa", choices=[], validate_choice=False)
    started_on = DateField(
        "Fecha de inicio de actividades", validators=[Optional()], format="%Y-%m-%d"
    )
    size = SelectField("Tamaño", choices=_choices(COMPANY_SIZES, "Elige el tamaño"))
    submit_company = SubmitField("Guardar datos de la empresa")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fill_territory(self.company_region, self.company_comuna)


class LoginForm(FlaskForm):
    identifier = StringField(
        "RUT o correo electrónico", validators=[DataRequired(REQUIRED), Length(max=254)]
    )
    password = PasswordField("Contraseña", validators=[DataRequired(REQUIRED), Length(max=128)])
    remember = BooleanField("Recordarme en este dispositivo")
    submit = SubmitField("Ingresar")


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField("Contraseña actual", validators=[DataRequired(REQUIRED)])
    new_password = PasswordField(
        "Nueva contraseña", validators=[DataRequired(REQUIRED), Length(max=128)]
    )
    submit_password = SubmitField("Cambiar contraseña")


class DeleteAccountForm(FlaskForm):
    password = PasswordField("Tu contraseña, para confirmar", validators=[DataRequired(REQUIRED)])
    confirm = BooleanField(
        "Entiendo que mis datos personales se eliminarán y no podré "
        "volver a ingresar con esta cuenta",
        validators=[DataRequired("Debes confirmar la eliminación.")],
    )
    submit_delete = SubmitField("Eliminar mi cuenta")


class StaffForm(FlaskForm):
    rut = StringField("RUT", validators=[DataRequired(REQUIRED), Length(max=14)])
    name = StringField("Nombre completo", validators=[DataRequired(REQUIRED), Length(max=120)])
    email = EmailField("Correo electrónico", validators=[DataRequired(REQUIRED), Length(max=254)])
    specialty = SelectField(
        "Especialidad",
        choices={
            "": "Elige la especialidad",
            "legal": "Legal",
            "sustainability": "Sustentabilidad",
        },
    )
    password = PasswordField("Contraseña inicial", validators=[DataRequired(REQUIRED)])
    submit = SubmitField("Crear asesor/a")
