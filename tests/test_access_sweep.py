"""Every route in app.url_map: anonymous users are sent to login or refused, and roles are
enforced on every admin and advisor route. New routes are covered without editing this."""

import pytest
from werkzeug.routing.converters import NumberConverter


def _rules(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        values = {}
        for name in rule.arguments:
            numeric = isinstance(rule._converters[name], NumberConverter)
            values[name] = 1 if numeric else "x"
        url = rule.build(values, append_unknown=False)[1]
        method = "GET" if "GET" in rule.methods else sorted(rule.methods - {"HEAD", "OPTIONS"})[0]
        yield rule, url, method, app.view_functions[rule.endpoint]


def _request(client, method, url):
    return client.open(url, method=method, data={})


def test_anonymous_users_are_sent_to_login_or_refused(app, client):
    checked = 0
    for rule, url, method, view in _rules(app):
        if getattr(view, "sv_public", False):
            continue
        response = _request(client, method, url)
        checked += 1
        assert response.status_code in (302, 401), (rule.rule, response.status_code)
        if response.status_code == 302:
            assert "/ingresar" in response.headers["Location"], rule.rule
    assert checked >= 10


def test_staff_routes_declare_their_roles(app):
    for rule, _url, _method, view in _rules(app):
        roles = getattr(view, "sv_roles", None)
        if rule.rule.startswith("/admin"):
            assert roles == frozenset({"admin"}), rule.rule
        if rule.rule.startswith("/asesor"):
            assert roles and "entrepreneur" not in roles, rule.rule


@pytest.mark.parametrize("role", ["entrepreneur", "advisor"])
def test_roles_outside_a_route_get_403(app, client, auth, make_user, role):
    auth.login(make_user(role))
    checked = 0
    for rule, url, method, view in _rules(app):
        roles = getattr(view, "sv_roles", None)
        if roles is None or role in roles:
            continue
        response = _request(client, method, url)
        checked += 1
        assert response.status_code == 403, (rule.rule, response.status_code)
        assert "Acceso no permitido" in response.get_data(as_text=True)
    assert checked >= 3


def test_public_pages_render_for_anonymous_users(app, client):
    for path in ("/", "/registro", "/ingresar", "/privacidad"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert '<html lang="es-CL">' in response.get_data(as_text=True)
