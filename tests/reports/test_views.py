"""The dashboard, its exports (CSV parsed back, XLSX opened with openpyxl), the audit of
every export, refusals for everyone but admins, and the CLI."""

import csv
import io
import json

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from sv_platform.accounts.models import AuditEntry
from sv_platform.extensions import db

REPORT_URLS = [
    ("GET", "/admin/reportes?year=2026"),
    ("GET", "/admin/reportes/encuesta-anual"),
    ("POST", "/admin/reportes/encuesta-anual"),
    *[
        ("POST", f"/admin/reportes/exportar/{dataset}.{fmt}?year=2026")
        for dataset in (
            "beneficiarios",
            "inscripciones",
            "egresos",
            "consultas",
            "encuestas",
            "indicadores",
        )
        for fmt in ("csv", "xlsx")
    ],
]


@pytest.mark.parametrize("role", ["entrepreneur", "advisor"])
def test_everyone_but_admins_gets_403_on_every_report_url(dataset, client, auth, make_user, role):
    auth.login(make_user(role))
    for method, url in REPORT_URLS:
        response = client.open(url, method=method, data={"completo": "1", "year": "2026"})
        assert response.status_code == 403, url
        assert "Acceso no permitido" in response.get_data(as_text=True)
    assert db.session.scalars(select(AuditEntry)).all() == []


def test_anonymous_visitors_are_sent_to_login(dataset, client):
    for method, url in REPORT_URLS:
        response = client.open(url, method=method)
        assert response.status_code == 302 and "/ingresar" in response.headers["Location"]


def test_dashboard_shows_figures_and_their_definitions(dataset, client, auth, admin_user):
    auth.login(admin_user)
    page = client.get("/admin/reportes?year=2026").get_data(as_text=True)
    assert '<p class="display-6 mb-0" id="tasa-oficial">33,3 %</p>' in page
    assert "Numerador: <strong>1</strong> · Denominador: <strong>3</strong>" in page
    assert '<strong id="total-beneficiarios">3</strong> personas' in page
    assert page.count("<strong>Definición:</strong>") >= 10
    assert "Denominador: todos los beneficiarios del año t" in page
    assert "<svg" in page and "Indicador de propósito por región" in page
    assert page.count("Metropolitana de Santiago") >= 2  # chart and tables
    assert "Magallanes" in page  # all 16 regions, with or without beneficiaries
    filtered = client.get("/admin/reportes?year=2026&region=08&sex=masculino").get_data(
        as_text=True
    )
    assert '<strong id="total-beneficiarios">1</strong> persona ' in filtered


def test_publication_view_suppresses_small_counts(dataset, client, auth, admin_user):
    auth.login(admin_user)
    page = client.get("/admin/reportes?year=2026&publish=1").get_data(as_text=True)
    assert '<strong id="total-beneficiarios">&lt;5</strong>' in page
    assert "Numerador: <strong>&lt;5</strong>" in page


def test_bad_filters_are_refused(dataset, client, auth, admin_user):
    auth.login(admin_user)
    assert client.get("/admin/reportes?year=1990").status_code == 404
    assert client.get("/admin/reportes?year=2026&region=99").status_code == 400
    assert client.post("/admin/reportes/exportar/otra.csv?year=2026").status_code == 404


def _csv(response) -> list[dict]:
    raw = response.get_data()
    assert raw.startswith("\ufeff".encode())
    text = raw.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text), delimiter=";"))


def test_csv_export_opens_with_the_right_columns_and_accents(dataset, client, auth, admin_user):
    auth.login(admin_user)
    response = client.post("/admin/reportes/exportar/beneficiarios.csv?year=2026")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert 'filename="beneficiarios-2026.csv"' in response.headers["Content-Disposition"]
    rows = _csv(response)
    assert len(rows) == 3
    assert list(rows[0]) == [
        "Id persona",
        "Región",
        "Comuna",
        "Sexo",
        "Año de nacimiento",
        "Nivel educacional",
        "Tramo de edad",
        "Actividad económica",
    ]
    assert {r["Región"] for r in rows} == {"Metropolitana de Santiago", "Biobío"}
    assert "Concepción" in {r["Comuna"] for r in rows}
    assert all("RUT" not in key for key in rows[0])
    [entry] = db.session.scalars(select(AuditEntry)).all()
    assert entry.action == "report_export" and entry.actor_id == admin_user.id
    assert entry.after["formato"] == "csv" and entry.after["completo"] is False


def test_full_export_adds_rut_and_contact(dataset, client, auth, admin_user):
    auth.login(admin_user)
    response = client.post(
        "/admin/reportes/exportar/inscripciones.csv?year=2026", data={"completo": "1"}
    )
    rows = _csv(response)
    assert len(rows) == 7  # the 7 services delivered in 2026
    assert {"RUT", "Nombre", "Correo", "Teléfono"} <= set(rows[0])
    assert dataset.a.rut in {r["RUT"] for r in rows}
    assert {r["Estado"] for r in rows} == {"Vigente", "Egresada"}
    entry = db.session.scalars(select(AuditEntry)).one()
    assert entry.after["completo"] is True and entry.target_id == "inscripciones"


def test_filters_apply_to_exports(dataset, client, auth, admin_user):
    auth.login(admin_user)
    rows = _csv(client.post("/admin/reportes/exportar/egresos.csv?year=2026&service=legal"))
    assert len(rows) == 2 and {r["Servicio"] for r in rows} == {"Asesoría Legal Virtual"}
    rows = _csv(client.post("/admin/reportes/exportar/consultas.csv?year=2026"))
    assert [r["Días hábiles a primera respuesta"] for r in rows] == ["2", "0", "1"]
    rows = _csv(client.post("/admin/reportes/exportar/encuestas.csv?year=2026"))
    assert sorted(r["Encuesta"] for r in rows) == ["Anual", "Egreso", "Egreso"]
    assert "Instagram, WhatsApp" in {r["Canales digitales"] for r in rows}
    assert all("Comentario" not in key for key in rows[0])


def test_publication_csv_suppresses_small_cells_and_uses_decimal_comma(
    dataset, client, auth, admin_user
):
    auth.login(admin_user)
    rows = _csv(client.post("/admin/reportes/exportar/indicadores.csv?year=2026"))
    values = {(r["Indicador"], r["Desagregación"]): r["Valor"] for r in rows}
    assert values[("Beneficiarios", "Total personas")] == "<5"
    assert values[("Beneficiarios por región", "Valparaíso")] == "0"
    assert values[("Indicador de propósito · Total", "Tasa oficial")] == ""  # numerator < 5
    assert values[("Cobertura", "Sobre población objetivo")] == "0,00001"  # 3/302,888
    assert all("," not in v or v.replace(",", "").isdigit() for v in values.values())


def test_xlsx_export_opens_with_openpyxl(dataset, client, auth, admin_user):
    auth.login(admin_user)
    response = client.post("/admin/reportes/exportar/egresos.xlsx?year=2026")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.get_data()))
    sheet = book.active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:5] == ("Id inscripción", "Id persona", "Servicio", "Oferta", "Estado")
    assert len(rows) == 1 + 4
    assert {r[2] for r in rows[1:]} >= {"Asesoría Legal Virtual", "Cursos (Portal de Capacitación)"}
    assert db.session.scalars(select(AuditEntry)).one().after["formato"] == "xlsx"


def test_cli_prints_the_dashboard_figures(dataset, runner):
    result = runner.invoke(args=["sv", "report", "indicators", "--year", "2026"])
    assert result.exit_code == 0, result.output
    assert "Tasa oficial: 33,3 %  (numerador 1 / denominador 3)" in result.output
    assert "Metropolitana de Santiago" in result.output
    result = runner.invoke(
        args=["sv", "report", "indicators", "--year", "2026", "--region", "13", "--format", "json"]
    )
    data = json.loads(result.output)
    assert data["purpose"]["total"]["beneficiaries"] == 2
    assert data["purpose"]["total"]["numerator"] == 1
    assert data["beneficiaries"]["persons"] == 2
    assert data["filters"]["region"] == "13"
    bad = runner.invoke(args=["sv", "report", "indicators", "--year", "2026", "--region", "99"])
    assert bad.exit_code != 0 and "Esa región no existe" in bad.output
