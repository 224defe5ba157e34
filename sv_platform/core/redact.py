"""Removing personal data from free text: RUTs, emails, phone numbers, given names and
the greetings and sign-offs that carry them."""

import re
import unicodedata

RUT = re.compile(r"(?<![\w.])\d{1,2}(?:\.?\d{3}){2}\s*-?\s*[\dkK](?![\w])")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# +56 9 8765 4321, 9 8765 4321, 987654321, (2) 2123 4567, 22 123 4567...
PHONE = re.compile(
    r"(?<![\w+])(?:\+?\s*56[\s.-]*)?(?:\(?\d{1,2}\)?[\s.-]*)?\d{3,4}[\s.-]*\d{4}(?!\w)"
)
GREETING = re.compile(
    r"^\s*(?:hola|holi|buen(?:os|as)\s+(?:d[ií]as|tardes|noches)|estimad[oa]s?|"
    r"querid[oa]s?|se[nñ]or(?:a|ita)?|don|do[nñ]a)\b[^.!?:,\n]*[.!?:,]?\s*",
    re.IGNORECASE,
)
SIGN_OFF = re.compile(
    r"(?:^|\n)\s*(?:saludos(?: cordiales)?|atentamente|atte\.?|cordialmente|"
    r"quedo atent[oa][^\n]*|un abrazo|gracias[^\n]{0,40})[,.!]?\s*(?:\n[^\n]{0,60})?\s*$",
    re.IGNORECASE,
)
PERSON = "[persona]"


def _fold(text: str) -> str:
    return "".join(
        ch for ch in unicodedata.normalize("NFD", text) if unicodedata.category(ch) != "Mn"
    ).lower()


def _name_pattern(names) -> re.Pattern | None:
    """Every word of every name (3+ letters), matched whole, ignoring case and accents."""
    words = set()
    for name in names:
        for word in re.findall(r"[^\W\d_]{3,}", name or ""):
            words.add(_fold(word))
    if not words:
        return None
    alternatives = "|".join(sorted((re.escape(w) for w in words), key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


def replace_names(text: str, names) -> str:
    """`text` with every word of `names` replaced by "[persona]" (runs of them once)."""
    pattern = _name_pattern(names)
    if pattern is None or not text:
        return text or ""
    folded = _fold(text)
    if len(folded) != len(text):  # a character that folds to several: fall back to exact
        folded = text.lower()
    out, last = [], 0
    for match in pattern.finditer(folded):
        out.append(text[last : match.start()])
        out.append(PERSON)
        last = match.end()
    out.append(text[last:])
    joined = "".join(out)
    return re.sub(rf"{re.escape(PERSON)}(?:\s+{re.escape(PERSON)})+", PERSON, joined)


def scrub_identifiers(text: str) -> str:
    """RUTs, emails and phone numbers replaced by a placeholder."""
    text = EMAIL.sub("[correo]", text or "")
    text = RUT.sub("[RUT]", text)
    return PHONE.sub("[teléfono]", text)


def scrub(text: str, names=()) -> str:
    """Everything above: identifiers, names, and the greeting and sign-off of a message."""
    text = scrub_identifiers(text)
    text = replace_names(text, names)
    for _ in range(3):  # "Hola Javiera, señora Muñoz: ..." is two greetings
        text = GREETING.sub("", text, count=1)
    text = SIGN_OFF.sub("", text).strip()
    return text[:1].upper() + text[1:]
