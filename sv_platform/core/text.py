"""The one Markdown renderer and sanitizer: the only source of HTML marked safe."""

import queue
import re

import markdown as _markdown
import nh3
from markupsafe import Markup

ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "dd",
    "del",
    "div",
    "dl",
    "dt",
    "em",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "kbd",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "span",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "ul",
    "mark",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "abbr": {"title"},
    "td": {"align", "colspan", "rowspan"},
    "th": {"align", "colspan", "rowspan", "scope"},
    "ol": {"start"},
    "code": {"class"},
}
URL_SCHEMES = {"http", "https", "mailto"}
EXTENSIONS = ["tables", "fenced_code", "sane_lists", "nl2br"]


def _cleaner(tags: set[str]) -> nh3.Cleaner:
    return nh3.Cleaner(
        tags=tags,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


# Built once: nh3.clean() converts the allow-lists into its own on every call, which cost
# ten times the sanitizing of a chat message.
_CLEANERS = {True: _cleaner(ALLOWED_TAGS), False: _cleaner(ALLOWED_TAGS - {"img"})}


def sanitize_html(html: str, *, images: bool = True) -> str:
    """Strip everything outside the allow-list: scripts, handlers, javascript: URLs.
    Without `images`, <img> goes too: text written by users (chat, consultas) must not
    make a reader's browser fetch URLs on its own."""
    return _CLEANERS[images].clean(html)


# Text in which Markdown finds nothing to read as markup: letters, digits, spaces, newlines
# and everyday punctuation (no * _ ` # > - + = | ~ [ ] < > & \\), no line that opens a
# numbered list ("1.") and no space at either end of a line. Most chat messages are this.
_PLAIN = re.compile(r"(?:[^\W_]|[ \n¿?¡!.,;:()'\"%$@/€°ºª…–—])*")
_OPENS_LIST = re.compile(r"^\d+\.", re.MULTILINE)


def _plain_html(text: str) -> str | None:
    """The HTML Markdown with hard breaks (nl2br) makes of plain text — paragraphs at blank
    lines, `<br>` at the other newlines — without running it (a chat message's Markdown
    pass cost more than the rest of its payload); None when the text is not plain.
    tests/test_core.py checks it against Markdown itself."""
    if not _PLAIN.fullmatch(text) or _OPENS_LIST.search(text):
        return None
    paragraphs, lines = [], []
    for line in text.split("\n"):
        if line != line.strip(" "):
            return None
        if line:
            lines.append(line)
        elif lines:
            paragraphs.append(lines)
            lines = []
    if lines:
        paragraphs.append(lines)
    return "\n".join("<p>" + "<br>\n".join(lines) + "</p>" for lines in paragraphs)


def render_markdown(text: str | None, *, hard_breaks: bool = False, images: bool = True) -> Markup:
    """Markdown to sanitized HTML. `hard_breaks` keeps single newlines (chat messages);
    `images=False` for text written by users rather than by content editors."""
    if not text:
        return Markup("")
    if hard_breaks:
        plain = _plain_html(text)
        if plain is not None:
            return safe_html(plain, images=images)
    idle = _IDLE_RENDERERS[hard_breaks]
    try:
        renderer = idle.get_nowait()
    except queue.Empty:
        extensions = EXTENSIONS if hard_breaks else [e for e in EXTENSIONS if e != "nl2br"]
        renderer = _markdown.Markdown(extensions=extensions, output_format="html")
    try:
        html = renderer.reset().convert(text)
    finally:
        idle.put(renderer)
    return safe_html(html, images=images)


# Idle renderers, by hard_breaks: building one (its extensions, their patterns) costs ten
# times the rendering of a chat message, and one renderer must not serve two threads at once.
_IDLE_RENDERERS = {True: queue.SimpleQueue(), False: queue.SimpleQueue()}


def safe_html(html: str, *, images: bool = True) -> Markup:
    """HTML through the sanitizer, marked safe: the only place that marks HTML safe."""
    return Markup(sanitize_html(html, images=images))  # noqa: S704 - sanitized by nh3
