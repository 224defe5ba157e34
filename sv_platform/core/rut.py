"""The RUT: its one canonical form (`12345678-5`) and how pages show it."""

from stdnum.cl import rut as stdnum_rut
from stdnum.exceptions import ValidationError

from sv_platform.core.domain import InvalidInput


def normalize_rut(value: str | None, *, field: str = "rut") -> str:
    """RUT with or without dots/hyphen → `12345678-5`; raises InvalidInput if not valid.

    The canonical form has no dots and no leading zeros (`09432867-5` and `9432867-5` are
    one person) and an upper K; a body of zeros (`00000000-0`) is refused."""
    raw = (value or "").strip()
    if not raw:
        raise InvalidInput("Ingresa tu RUT.", field=field)
    invalid = InvalidInput("El RUT no es válido. Escríbelo como 12.345.678-5.", field=field)
    try:
        compact = stdnum_rut.compact(raw).lstrip("0")
    except ValidationError as exc:
        raise invalid from exc
    if len(compact) < 2:  # nothing left but the check digit: a body of zeros
        raise invalid
    try:
        compact = stdnum_rut.validate(compact)
    except ValidationError as exc:
        if "checksum" in type(exc).__name__.lower():
            raise InvalidInput(
                "El dígito verificador del RUT no es correcto. Revísalo.", field=field
            ) from exc
        raise invalid from exc
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
