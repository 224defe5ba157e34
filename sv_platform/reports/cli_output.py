"""What `flask sv report indicators` prints: the dashboard's figures as text or JSON."""

import json
from dataclasses import asdict, is_dataclass

from sv_platform.accounts import territory
from sv_platform.accounts.models import SEXES
from sv_platform.core.domain import InvalidInput
from sv_platform.reports import services
from sv_platform.reports.models import SERVICES


def _filters(year, region, service, sex) -> services.Filters:
    if region and region not in territory.region_names():
        raise InvalidInput("Esa región no existe. Usa un código entre 01 y 16.")
    if sex and sex not in SEXES:
        raise InvalidInput("Sexo no válido: usa femenino, masculino, otro o no_informa.")
    return services.Filters(year, service, region, sex)


def _plain(value):
    """Dataclasses with their derived rates, for JSON."""
    if is_dataclass(value):
        data = {k: _plain(v) for k, v in asdict(value).items()}
        for name in dir(type(value)):
            attr = getattr(type(value), name)
            if isinstance(attr, property) and name != "definitions":
                data[name] = _plain(getattr(value, name))
        return data
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _pct(value) -> str:
    return "—" if value is None else f"{value * 100:.1f} %".replace(".", ",")


def _num(value) -> str:
    return f"{value:,}".replace(",", ".")


def render(year, region=None, service=None, sex=None, fmt="text") -> str:
    f = _filters(year, region, service, sex)
    board = services.dashboard(f)
    if fmt == "json":
        data = _plain(board)
        data["filters"] = f.as_dict()
        data["definitions"] = services.DEFINITIONS
        return json.dumps(data, ensure_ascii=False, indent=2, default=str)
    p, b = board.purpose.total, board.beneficiaries
    regions = territory.region_names()
    place = regions.get(region, "Todo el país") if region else "Todo el país"
    lines = [
        f"Indicadores {year} · {place}"
        + (f" · {SERVICES[service]}" if service else "")
        + (f" · {SEXES[sex]}" if sex else ""),
        "",
        "Indicador de propósito (meta 70 %)",
        f"  Tasa oficial: {_pct(p.official_rate)}  "
        f"(numerador {_num(p.numerator)} / denominador {_num(p.beneficiaries)})",
        f"  Entre quienes respondieron: {_pct(p.respondent_rate)}  "
        f"(respondieron {_num(p.respondents)}; tasa de respuesta {_pct(p.response_rate)})",
        f"  Línea base (registro): {_pct(p.baseline_rate)}",
        "  Por región:",
    ]
    for cell in board.purpose.by_region:
        lines.append(
            f"    {cell.label:<45} {_num(cell.beneficiaries):>8}  {_pct(cell.official_rate):>8}"
        )
    lines.append("  Por sexo:")
    for cell in board.purpose.by_sex:
        lines.append(
            f"    {cell.label:<45} {_num(cell.beneficiaries):>8}  {_pct(cell.official_rate):>8}"
        )
    c = board.coverage
    lines += [
        "",
        f"Beneficiarios: {_num(b.persons)} personas, {_num(b.companies)} empresas",
        "  Por servicio: " + ", ".join(f"{SERVICES[k]} {_num(n)}" for k, n in b.by_service),
        f"Servicios entregados: {_num(board.services.total)}",
        f"Egresos: {_num(board.egresos.total)} ("
        + ", ".join(f"{SERVICES[k]} {_num(n)}" for k, n in board.egresos.by_service)
        + ")",
        f"Cobertura: {_pct(c.target_rate)} de {_num(c.target_population)} (objetivo), "
        f"{_pct(c.potential_rate)} de {_num(c.potential_population)} (potencial)",
        f"Tasa de egreso de cursos: {_pct(board.completion.rate)}",
        "Satisfacción (1 a 7): "
        + ("—" if board.satisfaction.mean is None else f"{board.satisfaction.mean:.1f}")
        + f" en {_num(board.satisfaction.answers)} respuestas",
        f"Consultas: {_num(board.consultations.total)}; lista de espera hoy: "
        f"{_num(board.waitlist.now)}",
    ]
    return "\n".join(lines)
