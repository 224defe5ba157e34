"""`flask --app wsgi sv …`: accounts, demo data, content, windows, jobs and checks."""

import sys
from datetime import date

import click
from flask import current_app
from flask.cli import AppGroup

from sv_platform.core.domain import DomainError
from sv_platform.core.rut import format_rut

sv = AppGroup("sv", help="Servicios Virtuales: comandos de administración.")


def _fail(error: DomainError):
    raise click.ClickException(error.message)


def _staff_options(func):
    for option in reversed(
        [
            click.option("--rut", required=True, help="RUT, con o sin puntos."),
            click.option("--email", required=True),
            click.option("--name", required=True, help="Nombre completo."),
            click.option("--password", required=True, help="Contraseña inicial."),
        ]
    ):
        func = option(func)
    return func


@sv.command("create-admin")
@_staff_options
def create_admin(rut, email, name, password):
    """Crea una cuenta de administrador/a."""
    from sv_platform.accounts import services

    try:
        user = services.create_staff(
            role="admin", rut=rut, email=email, name=name, password=password
        )
    except DomainError as error:
        _fail(error)
    click.echo(f"Administrador/a creado/a: {user.name} ({format_rut(user.rut)})")


@sv.command("create-advisor")
@_staff_options
@click.option("--specialty", required=True, type=click.Choice(["legal", "sustainability"]))
def create_advisor(rut, email, name, password, specialty):
    """Crea una cuenta de asesor/a con su especialidad."""
    from sv_platform.accounts import services

    try:
        user = services.create_staff(
            role="advisor", rut=rut, email=email, name=name, password=password, specialty=specialty
        )
    except DomainError as error:
        _fail(error)
    click.echo(f"Asesor/a creado/a: {user.name} ({format_rut(user.rut)}, {specialty})")


@sv.command("demo")
def demo():
    """Carga las cuentas de demostración (idempotente)."""
    from sv_platform.accounts import services
    from sv_platform.enrollment import services as enrollment

    for user in services.ensure_demo_accounts():
        click.echo(f"{user.role:<13} {format_rut(user.rut):<12} {user.email}")
    enrollment.ensure_demo_data()
    click.echo(f"Contraseña de todas las cuentas demo: {services.DEMO_PASSWORD}")


content = AppGroup("content", help="Contenidos: cursos y preguntas frecuentes.")


@content.command("load")
@click.argument("path", required=False, type=click.Path(file_okay=False, exists=True))
def content_load(path):
    """Importa cursos (courses/) y preguntas frecuentes (faq/) de PATH (idempotente)."""
    from sv_platform.courses import services as courses
    from sv_platform.enrollment import services as enrollment
    from sv_platform.faq import services as faq

    root = path or current_app.config["CONTENT_DIR"]
    for loader in (enrollment.load_content, courses.load_content, faq.load_content):
        try:
            summary = loader(root)
        except DomainError as error:
            _fail(error)
        if summary:
            click.echo(summary)


jobs = AppGroup("jobs", help="Tareas periódicas (cierre automático de consultas, avisos…).")


@jobs.command("run")
def jobs_run():
    """Hace una vez cada tarea periódica pendiente (idempotente; seguro desde dos máquinas)."""
    from sv_platform import jobs as periodic

    for name, count in periodic.run_due().items():
        if count < 0:
            click.echo(f"✗ {name}: falló (ver el registro)")
        else:
            click.echo(f"{name}: {count}")


def _mail_group() -> AppGroup:
    """`flask sv mail send [--loop]`: the outbox sender (production runs it as a process)."""
    mail = AppGroup("mail", help="Correo: envía la cola de salida (outbox).")

    @mail.command("send")
    @click.option("--loop", is_flag=True, help="Sigue enviando hasta recibir SIGTERM o Ctrl-C.")
    @click.option("--interval", default=5.0, show_default=True, help="Segundos entre rondas.")
    def mail_send(loop, interval):
        """Envía los correos pendientes (una vez, o en bucle con --loop)."""
        import signal
        import threading

        from sv_platform.notifications import sender

        if not loop:
            click.echo(f"correos enviados: {sender.deliver_due()}")
            return
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        click.echo(f"Enviando correos cada {interval:g} s (Ctrl-C para terminar).")
        sender.run_loop(current_app._get_current_object(), interval=interval, stop=stop)

    return mail


window = AppGroup("window", help="Ventanas de inscripción y cupos.")


def _parse_date(value: str | None, label: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{label} debe tener formato AAAA-MM-DD.") from exc


@window.command("create")
@click.option(
    "--offering",
    "offering_slug",
    required=True,
    help="Identificador del servicio (p. ej. asesoria-legal).",
)
@click.option("--capacity", required=True, type=click.IntRange(min=0))
@click.option("--region", "region_code", default=None, help="Código de región (01-16).")
@click.option("--opens", default=None, help="AAAA-MM-DD (por omisión, ahora).")
@click.option("--closes", default=None, help="AAAA-MM-DD (por omisión, fin de año).")
@click.option("--name", default=None, help="Nombre de la ventana.")
def window_create(offering_slug, capacity, region_code, opens, closes, name):
    """Abre una ventana con N cupos para un servicio."""
    from sv_platform.enrollment import services

    try:
        created = services.create_window(
            offering_slug=offering_slug,
            capacity=capacity,
            region_code=region_code,
            opens_on=_parse_date(opens, "--opens"),
            closes_on=_parse_date(closes, "--closes"),
            name=name,
        )
    except DomainError as error:
        _fail(error)
    click.echo(services.describe_window(created))


@window.command("list")
def window_list():
    """Lista las ventanas con sus cupos usados y disponibles."""
    from sv_platform.enrollment import services

    for item in services.list_windows():
        click.echo(services.describe_window(item))


@sv.command("check")
def check():
    """Revisa la configuración de producción y que sus servicios respondan."""
    from sv_platform.config import production_problems

    problems = production_problems(current_app.config)
    for check_service in (
        _check_database,
        _check_message_queue,
        _check_limit_storage,
        _check_mail,
        _check_upload_dir,
    ):
        problems += check_service(current_app.config)
    for problem in problems:
        click.echo(f"✗ {problem}")
    if problems:
        sys.exit(1)
    click.echo("✓ Configuración de producción correcta.")


def _report_group() -> AppGroup:
    """`flask sv report …`: the program's figures, the same the dashboard shows."""
    report = AppGroup("report", help="Reportes: indicadores del programa.")

    @report.command("indicators")
    @click.option("--year", required=True, type=click.IntRange(2000, 2100), help="Año t.")
    @click.option("--region", "region_code", default=None, help="Código de región (01-16).")
    @click.option(
        "--service", default=None, type=click.Choice(["course", "legal", "sustainability"])
    )
    @click.option("--sex", default=None, help="femenino, masculino, otro o no_informa.")
    @click.option("--format", "fmt", default="text", type=click.Choice(["text", "json"]))
    def indicators(year, region_code, service, sex, fmt):
        """Imprime los indicadores del año (texto o JSON)."""
        from sv_platform.reports import cli_output

        try:
            click.echo(cli_output.render(year, region_code, service, sex, fmt))
        except DomainError as error:
            _fail(error)

    @report.command("rebuild")
    def rebuild():
        """Recalcula desde cero la tabla resumen de beneficiarios (report_beneficiary_year)."""
        from sv_platform.extensions import db, write_transaction
        from sv_platform.reports import summary

        with write_transaction():
            rows = summary.rebuild()
            db.session.commit()
        click.echo(f"Resumen de beneficiarios recalculado: {rows} filas (persona y año).")

    return report


def _check_database(config) -> list[str]:
    """Reachable, and at the migrations' head."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from sv_platform.extensions import db, migrate

    try:
        with db.engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    except Exception as error:  # noqa: BLE001 - any failure is reported, not raised
        return [f"La base de datos no responde ({type(error).__name__})."]
    heads = set(ScriptDirectory.from_config(migrate.get_config()).get_heads())
    if current != heads:
        return [
            "La base de datos no está al día con las migraciones "
            f"(está en {', '.join(sorted(current)) or 'ninguna'}, se espera "
            f"{', '.join(sorted(heads))}): ejecute `flask db upgrade`."
        ]
    return []


def _redis_problem(url: str, label: str) -> list[str]:
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3).ping()
    except Exception as error:  # noqa: BLE001 - any failure is reported, not raised
        return [f"{label} ({url}) no responde ({type(error).__name__})."]
    return []


def _check_message_queue(config) -> list[str]:
    url = config.get("SOCKETIO_MESSAGE_QUEUE")
    if not url:
        return [
            "SV_SOCKETIO_MESSAGE_QUEUE no está definida: con más de un proceso el chat no "
            "llega a todos (use redis://…)."
        ]
    if url.startswith(("redis://", "rediss://", "unix://")):
        return _redis_problem(url, "La cola de mensajes SV_SOCKETIO_MESSAGE_QUEUE")
    return []


def _check_limit_storage(config) -> list[str]:
    url = config.get("RATELIMIT_STORAGE_URI") or ""
    if url.startswith(("redis://", "rediss://")):
        return _redis_problem(url, "El almacenamiento de límites SV_RATELIMIT_STORAGE_URI")
    return []  # memory:// is already reported by production_problems()


def _check_mail(config) -> list[str]:
    """SMTP and the public base URL, where the platform sends mail (SMTP_HOST known)."""
    if "SMTP_HOST" not in config and "BASE_URL" not in config:
        return []
    problems = []
    base_url = config.get("BASE_URL") or ""
    if not base_url.startswith("https://"):
        problems.append("SV_BASE_URL falta o no es https://: los enlaces de los correos fallarían.")
    host = config.get("SMTP_HOST")
    if not host:
        problems.append("SV_SMTP_HOST no está definida: los correos solo se guardan como archivos.")
        return problems
    import socket

    try:
        socket.create_connection((host, int(config.get("SMTP_PORT") or 25)), timeout=5).close()
    except OSError as error:
        problems.append(f"El servidor SMTP {host} no responde ({type(error).__name__}).")
    return problems


def _check_upload_dir(config) -> list[str]:
    import tempfile
    from pathlib import Path

    folder = Path(config["UPLOAD_DIR"])
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError:
        return [f"La carpeta de adjuntos SV_UPLOAD_DIR ({folder}) no se puede escribir."]
    return []


@sv.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
def backup(path):
    """Copia consistente de la base de datos en PATH (SQLite: API de respaldo en línea;
    PostgreSQL: pg_dump en formato propio, se restaura con pg_restore)."""
    from sqlalchemy.engine import make_url

    from sv_platform.extensions import db

    url = make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() == "sqlite":
        _backup_sqlite(url.database, path)
    elif url.get_backend_name() == "postgresql":
        _backup_postgres(url, path)
    else:
        raise click.ClickException(f"No sé respaldar una base {url.get_backend_name()}.")
    db.engine.dispose()
    click.echo(f"Respaldo escrito en {path}")


def _backup_sqlite(database: str, path: str) -> None:
    """SQLite's online backup API: a consistent copy while servers keep writing."""
    import sqlite3

    source = sqlite3.connect(database)
    target = sqlite3.connect(path)
    try:
        with target:
            source.backup(target)
    finally:
        target.close()
        source.close()


def _backup_postgres(url, path: str) -> None:
    """pg_dump --format=custom: one consistent snapshot, restored with pg_restore."""
    import shutil
    import subprocess

    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise click.ClickException("No se encontró pg_dump (paquete postgresql-client).")
    libpq_url = url.set(drivername="postgresql").render_as_string(hide_password=False)
    result = subprocess.run(  # noqa: S603 - fixed program, URL from the configuration
        [pg_dump, "--format=custom", "--no-owner", f"--file={path}", libpq_url],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise click.ClickException(f"pg_dump falló: {result.stderr.strip()}")


def init_app(app) -> None:
    sv.add_command(content)
    sv.add_command(window)
    sv.add_command(jobs)
    sv.add_command(_report_group())
    sv.add_command(_mail_group())
    app.cli.add_command(sv)
