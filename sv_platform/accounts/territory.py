"""Chile's regions and comunas with their official CUT codes (data/territory.json)."""

import json
from functools import cache
from pathlib import Path

from wtforms.fields.choices import SelectChoice

DATA = Path(__file__).parent / "data" / "territory.json"


@cache
def regions() -> list[dict]:
    return json.loads(DATA.read_text(encoding="utf-8"))


@cache
def region_names() -> dict[str, str]:
    return {r["code"]: r["name"] for r in regions()}


@cache
def comuna_names() -> dict[str, str]:
    return {c["code"]: c["name"] for r in regions() for c in r["comunas"]}


def comuna_in_region(comuna_code: str | None, region_code: str | None) -> bool:
    return (
        bool(comuna_code and region_code)
        and comuna_code in comuna_names()
        and any(
            c["code"] == comuna_code
            for r in regions()
            if r["code"] == region_code
            for c in r["comunas"]
        )
    )


def region_choices(prompt: str = "Elige tu región") -> list[SelectChoice]:
    return [SelectChoice("", prompt)] + [SelectChoice(r["code"], r["name"]) for r in regions()]


def comuna_choices() -> list[SelectChoice]:
    """Grouped by region (optgroups): without JavaScript every comuna is still reachable."""
    return [SelectChoice("", "Elige tu comuna")] + [
        SelectChoice(c["code"], c["name"], optgroup=r["name"])
        for r in regions()
        for c in r["comunas"]
    ]
