"""Servicios Virtuales: the Flask application factory."""

from flask import Flask


def create_app(config=None) -> Flask:
    """Build the app: config, extensions, security, blueprints, errors, CLI, jobs."""
    app = Flask(__name__, instance_relative_config=True)

    from sv_platform import config as settings

    settings.load(app, config)

    from sv_platform import extensions

    extensions.init_app(app)

    from sv_platform import assets

    assets.init_app(app)

    from sv_platform.core import compression, errors, formatting, fragments, security, signing, urls

    signing.init_app(app)
    compression.init_app(app)  # before security: its ETag is over the uncompressed page
    security.init_app(app)
    formatting.init_app(app)
    urls.init_app(app)
    fragments.init_app(app)
    _register_blueprints(app)
    errors.init_app(app)

    from sv_platform import cli, jobs

    cli.init_app(app)
    jobs.init_app(app)
    _context(app)
    return app


def _register_blueprints(app: Flask) -> None:
    from sv_platform.accounts import bp as accounts
    from sv_platform.advisory import bp as advisory
    from sv_platform.core import bp as core
    from sv_platform.courses import bp as courses
    from sv_platform.enrollment import bp as enrollment
    from sv_platform.faq import bp as faq
    from sv_platform.notifications import bp as notifications
    from sv_platform.reports import bp as reports
    from sv_platform.reports import connect_signals

    blueprints = (core, accounts, enrollment, courses, faq, advisory, reports, notifications)
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    connect_signals()


def _context(app: Flask) -> None:
    """Template globals shared by every page (navigation, unread notices, territory)."""
    from flask_login import current_user

    from sv_platform.accounts import services as accounts
    from sv_platform.accounts import territory

    @app.context_processor
    def inject():
        unread = 0
        if current_user.is_authenticated:  # counted when the user was loaded, else now
            unread = getattr(current_user, "unread_count", None)
            if unread is None:
                unread = accounts.unread_notifications(current_user.id)
        return {
            "unread_notifications": unread,
            "region_names": territory.region_names(),
        }
