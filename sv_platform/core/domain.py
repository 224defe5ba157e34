"""The root of every domain error: a Spanish message, a socket code and an HTTP status."""

# Ids are 32-bit integer columns on PostgreSQL; anything larger cannot exist.
MAX_ID = 2**31 - 1


def valid_id(value) -> bool:
    """True for an int (not bool) that can be a row id."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


class DomainError(Exception):
    """A rule said no. Views flash `message`; socket acks carry `code`."""

    code = "invalid"
    status = 400
    message = "No se pudo completar la acción."

    def __init__(self, message: str | None = None, *, field: str | None = None):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.field = field


class NotFound(DomainError):
    code = "not_found"
    status = 404
    message = "No encontramos lo que buscas."


class NotAllowed(DomainError):
    code = "forbidden"
    status = 403
    message = "No tienes permiso para hacer esto."


class InvalidInput(DomainError):
    code = "invalid"
    status = 400
    message = "Revisa los datos ingresados."
