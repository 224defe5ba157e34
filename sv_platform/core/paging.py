"""Keyset pagination: pages ordered by id, newest first, stable while rows are added."""

from dataclasses import dataclass, field

from sv_platform.core.domain import MAX_ID

PAGE_SIZE = 25


@dataclass(frozen=True)
class Page:
    """One page of rows: `after` is the cursor of the next page (None on the last one)."""

    items: list = field(default_factory=list)
    after: int | None = None
    cursor: int | None = None

    @property
    def is_first(self) -> bool:
        return self.cursor is None


def parse_cursor(value) -> int | None:
    """A cursor from the query string (`?despues=123`); anything else is the first page."""
    try:
        number = int(str(value or "").strip())
    except ValueError:
        return None
    return number if 0 < number <= MAX_ID else None


def keyset_page(session, query, id_column, *, cursor: int | None, size: int = PAGE_SIZE) -> Page:
    """Rows of `query` with id below `cursor`, by id descending, `size` at most. Rows added
    meanwhile have larger ids, so later pages never shift or repeat."""
    if cursor is not None:
        query = query.where(id_column < cursor)
    rows = list(session.scalars(query.order_by(id_column.desc()).limit(size + 1)))
    after = None
    if len(rows) > size:
        rows = rows[:size]
        after = _id_of(rows[-1])
    return Page(items=rows, after=after, cursor=cursor)


def _id_of(row) -> int:
    return row if isinstance(row, int) else row.id
