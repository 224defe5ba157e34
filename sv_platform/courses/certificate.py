"""The certificate PDF: fpdf2 with the embedded DejaVu fonts (Latin, Greek, Cyrillic) and
Droid Sans Fallback (Chinese, Japanese, Korean) as fallback, and a QR to the public page."""

import io
import unicodedata
from functools import lru_cache
from pathlib import Path

import qrcode
from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from sv_platform.core.domain import DomainError
from sv_platform.core.formatting import date_cl
from sv_platform.core.rut import format_rut

FONTS = Path(__file__).resolve().parents[1] / "static" / "fonts"
BLUE = (11, 79, 138)
RED = (213, 43, 30)


FONT_FILES = ("DejaVuSans.ttf", "DroidSansFallback.ttf")


class NameNotPrintable(DomainError):
    code = "invalid"
    status = 422


@lru_cache(maxsize=len(FONT_FILES))
def _codepoints(font_file: str) -> frozenset[int]:
    with TTFont(FONTS / font_file, lazy=True) as font:
        return frozenset(font.getBestCmap())


def _printable_codepoints() -> frozenset[int]:
    return frozenset().union(*(_codepoints(name) for name in FONT_FILES))


def unprintable(text: str) -> list[str]:
    """The characters of `text` the certificate cannot print, each once: those no embedded
    font has, and right-to-left letters (Arabic, Hebrew), which need text shaping that
    the PDF library does not do here and would come out disjoined and reversed."""
    points = _printable_codepoints()
    seen = []
    for ch in text:
        if ch.isspace() or ch in seen:
            continue
        rtl = unicodedata.bidirectional(ch) in ("R", "AL")
        if rtl or ord(ch) not in points:
            seen.append(ch)
    return seen


def check_printable(name: str) -> None:
    """Rule: a certificate prints the person's name exactly or is not issued as a PDF; a
    name with characters no font covers (emoji, right-to-left scripts) gets a clear
    refusal instead of a name with silent gaps. Raises NameNotPrintable."""
    missing = unprintable(name)
    if missing:
        shown = " ".join(missing[:5])
        raise NameNotPrintable(
            f"No podemos imprimir tu nombre tal como está escrito: el certificado no admite "
            f"{'el carácter' if len(missing) == 1 else 'los caracteres'} «{shown}» "
            "(emojis o letras de escritura de derecha a izquierda). Escríbenos a través de "
            "una consulta y lo emitiremos con tu nombre en letras latinas."
        )


def qr_png(url: str) -> bytes:
    """The verification URL as a PNG QR code."""
    qr = qrcode.QRCode(border=2, box_size=8, error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(url)
    qr.make(fit=True)
    buffer = io.BytesIO()
    qr.make_image(fill_color="black", back_color="white").save(buffer, format="PNG")
    return buffer.getvalue()


def build_pdf(certificate, verify_url: str) -> bytes:
    """One landscape A4 page: name, RUT, course, hours, date (es-CL, Santiago), code, QR.
    Needs an app context (dates use Flask-Babel's es-CL and America/Santiago). Raises
    NameNotPrintable."""
    check_printable(certificate.name or "")
    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_title(f"Certificado - {certificate.course_title}")
    pdf.set_author("Servicios Virtuales")
    pdf.set_lang("es-CL")
    pdf.add_font("DejaVu", "", FONTS / "DejaVuSans.ttf")
    pdf.add_font("DejaVu", "B", FONTS / "DejaVuSans-Bold.ttf")
    if any(ord(ch) not in _codepoints(FONT_FILES[0]) for ch in certificate.name or ""):
        # Loaded only when needed: the CJK font is large and slow to embed.
        pdf.add_font("DroidFallback", "", FONTS / FONT_FILES[1])
        pdf.set_fallback_fonts(["DroidFallback"], exact_match=False)
    pdf.add_page()
    width = pdf.w - 40

    pdf.set_fill_color(*BLUE)
    pdf.rect(0, 0, pdf.w * 0.35, 6, style="F")
    pdf.set_fill_color(*RED)
    pdf.rect(pdf.w * 0.35, 0, pdf.w * 0.65, 6, style="F")
    pdf.set_draw_color(*BLUE)
    pdf.set_line_width(0.8)
    pdf.rect(10, 14, pdf.w - 20, pdf.h - 24)

    pdf.set_xy(20, 26)
    pdf.set_text_color(*BLUE)
    pdf.set_font("DejaVu", "B", 14)
    pdf.cell(
        width,
        8,
        "Servicios Virtuales · Portal de Capacitación",
        align="C",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.set_x(20)
    pdf.set_font("DejaVu", "B", 28)
    pdf.cell(width, 18, "Certificado de egreso", align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    pdf.set_text_color(27, 27, 27)
    pdf.set_font("DejaVu", "", 13)
    pdf.set_x(20)
    pdf.cell(width, 10, "Se certifica que", align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_x(20)
    pdf.set_font("DejaVu", "B", 22)
    pdf.multi_cell(width, 11, certificate.name, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_x(20)
    pdf.set_font("DejaVu", "", 13)
    pdf.cell(
        width,
        8,
        f"RUT {format_rut(certificate.rut)}",
        align="C",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.ln(3)
    pdf.set_x(20)
    pdf.cell(width, 8, "completó y aprobó el curso", align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_x(30)
    pdf.set_font("DejaVu", "B", 17)
    pdf.multi_cell(
        width - 20,
        9,
        f"«{certificate.course_title}»",
        align="C",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.set_x(20)
    pdf.set_font("DejaVu", "", 13)
    hours = "1 hora" if certificate.hours == 1 else f"{certificate.hours} horas"
    pdf.cell(
        width,
        9,
        f"con una duración de {hours}, el {date_cl(certificate.issued_at)}.",
        align="C",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )

    qr_size = 38
    top = pdf.h - 24 - qr_size
    pdf.image(
        io.BytesIO(qr_png(verify_url)),
        x=pdf.w - 20 - qr_size,
        y=top,
        w=qr_size,
        h=qr_size,
        alt_text="Código QR para verificar el certificado",
    )
    pdf.set_xy(20, top + 8)
    pdf.set_font("DejaVu", "", 11)
    pdf.cell(
        width - qr_size - 10,
        7,
        f"Código de verificación: {certificate.code}",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.set_x(20)
    pdf.cell(
        width - qr_size - 10, 7, "Verifica su autenticidad en:", new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )
    pdf.set_x(20)
    pdf.set_text_color(*BLUE)
    pdf.cell(
        width - qr_size - 10, 7, verify_url, link=verify_url, new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )
    return bytes(pdf.output())
