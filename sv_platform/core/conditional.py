"""Conditional requests for pages that hold no secrets: a repeat visit gets `304 Not
Modified` (headers only) when the page would be byte for byte what the browser already has.

A view marked `@revalidated` answers its GET 200 HTML with `Cache-Control: private,
no-cache` and a weak ETag; every other page of a logged-in person stays `no-store`. The
page is still built for every request (every rule and every personalized part is applied
each time); only its bytes are spared when nothing changed. The ETag is a hash of:

- the rendered body with this request's CSRF token taken out (the token is re-signed with a
  timestamp on every request, so it would make every page differ);
- what ties the page to its session: the logged-in identity and its session version (a
  logout, a password change or "close every session" change it) and the session's own CSRF
  secret, so a copy kept from another session or person can never be confirmed, and the
  older token inside the kept copy is one this session accepts (tokens live as long as
  the session; with a time limit the ETag also changes every half of that limit).

Pages that show personal data (the e-mail address of the confirmation banner) are never
marked revalidatable. A shared device keeps nothing after "Salir": logout answers with
`Clear-Site-Data: "cache"`.
"""

import hashlib
import time

from flask import current_app, g, request, session
from flask_login import current_user

CACHE_CONTROL = "private, no-cache"


def revalidated(view):
    """Mark a GET view whose page holds no secrets: repeat visits may be answered 304."""
    view.sv_revalidated = True
    return view


def applies(response) -> bool:
    """Whether this response may be revalidated instead of being no-store."""
    if request.method not in ("GET", "HEAD") or response.status_code != 200:
        return False
    if response.is_streamed or response.mimetype != "text/html":
        return False
    view = current_app.view_functions.get(request.endpoint or "")
    if not getattr(view, "sv_revalidated", False):
        return False
    # The confirmation banner shows the person's e-mail address on every page.
    return not (
        current_user.is_authenticated and current_user.email and not current_user.email_confirmed_at
    )


def _validator(body: bytes) -> str:
    field = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    token = g.get(field)  # Flask-WTF keeps the token in g and its secret in the session
    if token:
        body = body.replace(token.encode(), b"")
    digest = hashlib.sha256(body)
    digest.update(b"\0")
    digest.update(str(session.get("_user_id", "")).encode())
    digest.update(b"\0")
    digest.update(str(session.get(field, "")).encode())
    limit = current_app.config.get("WTF_CSRF_TIME_LIMIT")
    if limit:
        digest.update(b"\0%d" % (int(time.time()) // max(1, int(limit) // 2)))
    return digest.hexdigest()[:32]


def make_conditional(response):
    """Tag the page and answer 304 when the browser's copy has the same tag (weak
    comparison, RFC 9110 §13.1.2: `If-None-Match` lists tags or is `*`)."""
    tag = _validator(response.get_data())
    headers = response.headers
    headers["Cache-Control"] = CACHE_CONTROL
    headers["ETag"] = f'W/"{tag}"'
    kept = request.headers.get("If-None-Match")
    if kept and (kept.strip() == "*" or tag in _listed(kept)):
        response.status_code = 304
        response.set_data(b"")
        for name in ("Content-Length", "Content-Type"):
            headers.pop(name, None)
    return response


def _listed(value: str) -> set[str]:
    """The opaque tags of an If-None-Match value, weak or strong."""
    tags = set()
    for part in value.split(","):
        part = part.strip()
        if part.startswith("W/"):
            part = part[2:]
        if len(part) >= 2 and part[0] == part[-1] == '"':
            tags.add(part[1:-1])
    return tags
