"""The RUT: its one canonical form (`12345678-5`) and how pages show it."""

from stdnum.cl import rut as stdnum_rut
from stdnum.exceptions import ValidationError

from sv_platform.core.domain import InvalidInput


def normalize_rut(value: str | None, *, field: str = "rut") -> str:
    """RUT with or without dots/hyphen → `12345678-5`; raises InvalidInput if not valid."""
    raw = (value or "").strip()
    if not raw:
        raise InvalidInput("Ingresa tu RUT.", field=field)
    try:
        compact = stdnum_rut.validate(raw)
    except ValidationError as exc:
        if "checksum" in type(exc).__name__.lower():
            raise InvalidInput(
                "El dígito verificador del RUT no es correcto. Revísalo.", field=field
            ) from exc
        raise InvalidInput(
            "El RUT no es válido. Escríbelo como 12.345.678-5.", field=field
        ) from exc
    return f"{compact[:-1]}-{compact[-1]}"


def format_rut(rut: str | None) -> str:
    """`12345678-5` → `12.345.678-5`."""
    if not rut or "-" not in rut:
        return "no informado"
    body, dv = rut.split("-", 1)
    return (f"{int(body):,}".replace(",", ".") if body.isdigit() else body) + f"-{dv}"


def mask_rut(rut: str | None) -> str:
    """`12345678-5` → `**.***.678-5`: enough to match a person, not to read the RUT."""
    if not rut or "-" not in rut:
        return "no informado"
    grouped, dv = format_rut(rut).split("-", 1)
    digits = sum(ch.isdigit() for ch in grouped)
    seen, out = 0, []
    for ch in grouped:
        if ch.isdigit():
            seen += 1
            out.append(ch if seen > digits - 3 else "*")
        else:
            out.append(ch)
    return f"{''.join(out)}-{dv}"
