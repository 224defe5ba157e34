"""Charts drawn on the server as SVG (no JavaScript; a table beside each one holds the
same figures for screen readers)."""

from markupsafe import Markup, escape

BAR = "#0f69b4"  # the government blue, 4.5:1 on white
TARGET = "#c8102e"


def _fmt(value: float) -> str:
    return (
        f"{value:.1f}".replace(".", ",")
        if isinstance(value, float)
        else f"{value:,}".replace(",", ".")
    )


def bar_chart(
    items: list[tuple[str, float]],
    *,
    title: str,
    percent: bool = False,
    target: float | None = None,
    width: int = 640,
) -> Markup:
    """Horizontal bars, one per (label, value); `percent` values are 0–1 ratios shown as
    percentages; `target` draws a vertical line (e.g. the 70 % goal)."""
    row, label_w, pad = 26, 190, 60
    height = row * max(len(items), 1) + 10
    peak = 1.0 if percent else max([v or 0 for _, v in items] + [1])
    scale = (width - label_w - pad) / peak
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, value) in enumerate(items):
        y = 5 + i * row
        shown = "—" if value is None else (_fmt(value * 100) + " %" if percent else _fmt(value))
        bar = 0 if value is None else max(value * scale, 0)
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 17}" text-anchor="end" font-size="13" '
            f'fill="#1f2933">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y + 4}" width="{bar:.1f}" height="{row - 8}" fill="{BAR}">'
            f"<title>{escape(label)}: {shown}</title></rect>"
            f'<text x="{label_w + bar + 4:.1f}" y="{y + 17}" font-size="12" '
            f'fill="#1f2933">{shown}</text>'
        )
    if target is not None:
        x = label_w + target * scale
        parts.append(
            f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{height}" stroke="{TARGET}" '
            f'stroke-width="2" stroke-dasharray="4 3"><title>Meta {_fmt(target * 100)} %'
            "</title></line>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every label and title above is escaped


def month_chart(by_month: list[tuple[int, int, int]], *, title: str, width: int = 640) -> Markup:
    """Two bars per month: entries to the waitlist and promotions."""
    height, base, left = 180, 150, 30
    peak = max([max(e, p) for _, e, p in by_month] + [1])
    step = (width - left - 10) / 12
    names = "EFMAMJJASOND"
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for month, entered, promoted in by_month:
        x = left + (month - 1) * step
        for offset, value, color, what in (
            (2, entered, BAR, "entradas"),
            (step / 2, promoted, "#2e7d32", "promociones"),
        ):
            h = value / peak * (base - 10)
            parts.append(
                f'<rect x="{x + offset:.1f}" y="{base - h:.1f}" width="{step / 2 - 4:.1f}" '
                f'height="{h:.1f}" fill="{color}"><title>Mes {month}: {value} {what}</title></rect>'
            )
        parts.append(
            f'<text x="{x + step / 2:.1f}" y="{base + 18}" text-anchor="middle" font-size="12" '
            f'fill="#1f2933">{names[month - 1]}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every label and title above is escaped
