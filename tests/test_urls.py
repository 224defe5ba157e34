"""Links built by templates: memoized, yet always what Flask's url_for builds."""

from flask import render_template_string


def test_template_links_match_flask_url_for(app):
    template = (
        "{{ url_for('static', filename='css/site.css') }}|"
        "{{ url_for('courses.lesson', slug='un-curso', lesson_slug='una-leccion') }}|"
        "{{ url_for('courses.lesson', slug='otro', lesson_slug='una-leccion') }}|"
        "{{ url_for('core.privacy', _external=True) }}"
    )
    with app.test_request_context("/"):
        expected = [
            app.url_for("static", filename="css/site.css"),
            app.url_for("courses.lesson", slug="un-curso", lesson_slug="una-leccion"),
            app.url_for("courses.lesson", slug="otro", lesson_slug="una-leccion"),
            app.url_for("core.privacy", _external=True),
        ]
        assert render_template_string(template).split("|") == expected
        assert render_template_string(template).split("|") == expected  # from the cache
    assert expected[0] != "/static/css/site.css"  # the content-hashed name
    assert expected[1] != expected[2]


def test_a_different_script_root_gets_its_own_links(app):
    template = "{{ url_for('core.privacy') }}"
    with app.test_request_context("/"):
        assert render_template_string(template) == "/privacidad"
    with app.test_request_context("/", base_url="http://localhost/sv/"):
        assert app.url_for("core.privacy") == "/sv/privacidad"
        assert render_template_string(template) == "/sv/privacidad"
