"""Search results as a person reads them: plain-text snippets around the matched words and
<mark> highlighting, whose HTML always goes through core.text.safe_html."""

import html
import re
import unicodedata
from functools import lru_cache

from markupsafe import Markup, escape

from sv_platform.core.spanish import (
    WORD,
    Form,
    alternatives,
    query_terms,
    stem_matches,
    word_stems,
)
from sv_platform.core.text import safe_html

SNIPPET_CHARS = 180


_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_BLOCKS = re.compile(r"^[ \t]*(?:#{1,6}[ \t]+|[-*+][ \t]+|\d+[.)][ \t]+|>[ \t]?)+", re.MULTILINE)
_MD_INLINE = re.compile(r"[*_`~|]+")


def plain_text(markdown_text: str | None) -> str:
    """A Markdown answer as one line of plain text (for snippets and the JSON API)."""
    text = _MD_LINK.sub(r"\1", markdown_text or "")
    text = _MD_INLINE.sub("", _MD_BLOCKS.sub("", text))
    text = re.sub(r"<[^>]*>", " ", text)
    text = unicodedata.normalize("NFC", html.unescape(text))
    return re.sub(r"\s+", " ", text).strip()


def snippet(plain: str, groups: list[tuple[Form, ...]]) -> str:
    """About SNIPPET_CHARS characters of `plain`, around the first matched word."""
    first = next(_matched_spans(plain, groups), None)
    start = first[0] if first else 0
    if start > 60:
        cut = plain.rfind(" ", 0, start - 40)
        start = cut + 1 if cut > 0 else start
    else:
        start = 0
    end = start + SNIPPET_CHARS
    if end < len(plain):
        cut = plain.rfind(" ", start, end)
        end = cut if cut > start else end
    return ("…" if start else "") + plain[start:end] + ("…" if end < len(plain) else "")


def _word_matches(word: str, groups: list[tuple[Form, ...]]) -> bool:
    return any(stem_matches(s, g) for s in word_stems(word) for g in groups)


_FOLD = str.maketrans("áéíóúüñàèìòùâêîôûäëïöç", "aeiouunaeiouaeiouaeioc")


@lru_cache(maxsize=1024)
def _finder(groups: tuple[tuple[Form, ...], ...]) -> re.Pattern:
    """A regex for the start of every word that might match: stems keep the first letters
    of the unaccented word (Snowball only rewrites endings), so 4 letters are a safe filter."""
    starts = sorted({form[:4] for group in groups for form, _ in group}, key=len, reverse=True)
    return re.compile(r"(?<![^\W_])(?:" + "|".join(re.escape(s) for s in starts) + ")")


def _matched_spans(text: str, groups: list[tuple[Form, ...]]):
    """(start, end) of each word of `text` that matches the query, in order."""
    if not groups:
        return
    folded = text.lower().translate(_FOLD)
    if len(folded) != len(text):  # exotic case mapping: check every word
        for match in WORD.finditer(text):
            if _word_matches(match.group(), groups):
                yield match.span()
        return
    for candidate in _finder(tuple(groups)).finditer(folded):
        match = WORD.match(text, candidate.start())
        if match and _word_matches(match.group(), groups):
            yield match.span()


def highlight(text: str | None, groups: list[tuple[Form, ...]]) -> Markup:
    """Escape `text`, then wrap the words that match the query in <mark>."""
    return safe_html(_marked(text, groups))


def _marked(text: str | None, groups: list[tuple[Form, ...]]) -> str:
    """`text` escaped, with <mark> around the words that match: HTML not yet marked safe."""
    text = unicodedata.normalize("NFC", text or "")
    out, last = [], 0
    for start, end in _matched_spans(text, groups):
        out.append(f"{escape(text[last:start])}<mark>{escape(text[start:end])}</mark>")
        last = end
    out.append(str(escape(text[last:])))
    return "".join(out)


_TAG = re.compile(r"(<[^>]*>)")


def highlight_html(sanitized: str, query: str | None) -> Markup:
    """Mark the query's words inside already sanitized HTML (text nodes only)."""
    groups = search_groups(query)
    parts = []
    for part in _TAG.split(str(sanitized)):
        if part.startswith("<") or not groups:
            parts.append(part)
        else:
            parts.append(_marked(html.unescape(part), groups))
    return safe_html("".join(parts))


def search_groups(query: str | None) -> list[tuple[Form, ...]]:
    """The normalized groups of a query (for highlighting a page)."""
    return [alternatives(t) for t in query_terms(query)]
