"""The one Markdown renderer and sanitizer: the only source of HTML marked safe."""

import queue

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


def sanitize_html(html: str, *, images: bool = True) -> str:
    """Strip everything outside the allow-list: scripts, handlers, javascript: URLs.
    Without `images`, <img> goes too: text written by users (chat, consultas) must not
    make a reader's browser fetch URLs on its own."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS if images else ALLOWED_TAGS - {"img"},
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def render_markdown(text: str | None, *, hard_breaks: bool = False, images: bool = True) -> Markup:
    """Markdown to sanitized HTML. `hard_breaks` keeps single newlines (chat messages);
    `images=False` for text written by users rather than by content editors."""
    if not text:
        return Markup("")
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
