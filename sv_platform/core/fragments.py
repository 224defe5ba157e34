"""Rendered pieces of a page kept in memory and reused: the site navigation per role and
page, and a lesson's user-independent body per content version and progress.

A fragment is rendered once per key with placeholders where the request's own values go
(the CSRF token, the unread-notices count), and each request fills them in. Each app keeps
its own cache. The key must name everything else the fragment depends on; the URL prefix
the app is mounted under (`request.script_root`) is always part of it. Placeholders are
tags no escaped text or sanitized HTML can contain (`<` is escaped in text, unknown tags
are removed from lesson HTML). With template auto-reload (debug) nothing is cached, so an
edited template shows.
"""

import threading
from collections import OrderedDict

from flask import current_app, request
from flask_login import current_user
from jinja2 import pass_context
from markupsafe import Markup

from sv_platform.core.signing import generate_csrf

CSRF_MARK = Markup("<sv-csrf-token/>")
UNREAD_MARK = Markup("<sv-unread-count/>")
_CACHE_SIZE = 4096
_EXTENSION = "sv_fragments"


def _mark_csrf():
    return CSRF_MARK


def render(template_name: str, key: tuple, context: dict) -> str:
    """`template_name` rendered with `context` (plus the app's context processors), from
    the cache when this key was rendered before. The CSRF placeholder is left in."""
    app = current_app
    full_key = (template_name, request.script_root, key)
    caching = not app.jinja_env.auto_reload
    cache, lock = app.extensions[_EXTENSION]
    if caching:
        with lock:
            found = cache.get(full_key)
        if found is not None:
            return found
    values = dict(context)
    app.update_template_context(values)
    values["csrf_token"] = _mark_csrf
    html = app.jinja_env.get_template(template_name).render(values)
    if caching:
        with lock:
            cache[full_key] = html
            while len(cache) > _CACHE_SIZE:
                cache.popitem(last=False)
    return html


def fill(html: str) -> Markup:
    """The fragment with this request's CSRF token (the same one the page's other forms
    carry: Flask-WTF keeps one per request)."""
    if CSRF_MARK in html:
        html = html.replace(CSRF_MARK, generate_csrf())
    return Markup(html)  # noqa: S704 - rendered by Jinja with autoescape


@pass_context
def site_nav(context) -> Markup:
    """The navigation of `_partials/nav.html`: it depends on the role, the current page
    (which link is active) and whether there are unread notices; the count and the logout
    form's CSRF token are filled in per request."""
    authenticated = current_user.is_authenticated
    role = current_user.role if authenticated else None
    unread = context.get("unread_notifications") or 0
    html = render(
        "_partials/nav.html",
        (role, request.endpoint, bool(unread)),
        {"unread_notifications": UNREAD_MARK if unread else 0},
    )
    if unread:
        html = html.replace(UNREAD_MARK, str(int(unread)))
    return fill(html)


def init_app(app) -> None:
    # Each app its own cache (test apps on other databases never share one).
    app.extensions[_EXTENSION] = (OrderedDict(), threading.Lock())
    app.jinja_env.globals["site_nav"] = site_nav
