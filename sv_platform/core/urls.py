"""`url_for` in templates, memoized: a page builds 15–25 links whose paths depend only on
the URL map (fixed once the app is built) and the request's script root."""

from flask import request

_CACHE_SIZE = 4096


def memoized_url_for(app):
    """A drop-in `url_for` for Jinja: relative paths of named endpoints are built once per
    (script root, endpoint, arguments); anything else (blueprint-relative names, `_external`,
    `_anchor`, unhashable arguments) goes to Flask's own `url_for` every time."""
    build = app.url_for
    cache: dict = {}

    def url_for(endpoint: str, **values):
        if endpoint.startswith(".") or any(name.startswith("_") for name in values):
            return build(endpoint, **values)
        try:
            key = (request.script_root, endpoint, *sorted(values.items()))
            found = cache.get(key)
        except TypeError:  # an unhashable argument
            return build(endpoint, **values)
        if found is None:
            found = build(endpoint, **values)
            if len(cache) >= _CACHE_SIZE:
                cache.clear()
            cache[key] = found
        return found

    return url_for


def init_app(app) -> None:
    app.jinja_env.globals["url_for"] = memoized_url_for(app)
