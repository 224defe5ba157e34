"""Reads that run on every request, compiled once and sent straight to the driver.

SQLAlchemy's execution of even a cached statement (its cache key, the execution context,
the result object and its metadata) costs several times the database's own work for the
one-row reads every logged-in page makes (the session user; the lesson's version and
progress). A `Prepared` statement is compiled once per database dialect and runs on the
session's connection, inside its transaction (the same BEGIN, the same snapshot), through
a plain DB-API cursor; each column's result processing is the one SQLAlchemy applies
(e.g. SQLite's text dates become datetimes), and the engine's `before_cursor_execute` and
`after_cursor_execute` listeners are still called, so statement counters and recorders
see it. A driver's error is raised as SQLAlchemy's `DBAPIError` subclass (e.g.
`OperationalError`), and a dropped connection is invalidated, as SQLAlchemy does.
"""

import threading

from sqlalchemy import exc

from sv_platform.extensions import db

_lock = threading.Lock()


class Prepared:
    def __init__(self, statement):
        self.statement = statement
        self._compiled: dict = {}

    def _for(self, dialect):
        key = (dialect.name, dialect.driver, dialect.paramstyle)
        found = self._compiled.get(key)
        if found is None:
            compiled = self.statement.compile(dialect=dialect)
            names = tuple(compiled.positiontup) if dialect.positional else None
            columns = getattr(self.statement, "selected_columns", ())
            processors = tuple(
                c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns
            )
            found = (compiled.string, names, processors if any(processors) else None)
            with _lock:
                self._compiled[key] = found
        return found

    def rows(self, params: dict) -> list[tuple]:
        """Every row, as tuples, read on the session's connection."""
        connection = db.session.connection()
        sql, names, processors = self._for(connection.dialect)
        parameters = tuple(params[name] for name in names) if names is not None else params
        dispatch = connection.dispatch
        cursor = connection.connection.dbapi_connection.cursor()
        try:
            for listener in dispatch.before_cursor_execute:
                sql, parameters = listener(connection, cursor, sql, parameters, None, False)
            cursor.execute(sql, parameters)
            rows = cursor.fetchall()
            for listener in dispatch.after_cursor_execute:
                listener(connection, cursor, sql, parameters, None, False)
        except connection.dialect.loaded_dbapi.Error as error:
            cursor.close()
            # Raised as SQLAlchemy raises a driver's error (running it again would only
            # meet PostgreSQL's aborted transaction); a dropped connection is invalidated.
            dropped = connection.dialect.is_disconnect(
                error, connection.connection.dbapi_connection, cursor
            )
            if dropped:
                connection.invalidate(error)
            raise exc.DBAPIError.instance(
                sql,
                parameters,
                error,
                connection.dialect.loaded_dbapi.Error,
                connection_invalidated=dropped,
                dialect=connection.dialect,
            ) from error
        cursor.close()
        if processors is None:
            return rows
        return [
            tuple(v if p is None else p(v) for p, v in zip(processors, row, strict=True))
            for row in rows
        ]

    def first(self, params: dict) -> tuple | None:
        rows = self.rows(params)
        return rows[0] if rows else None
