"""Attachments: files typed by their content (magic bytes), stored under random names
outside static/, served only to those who may see the consulta."""

import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from sqlalchemy import event, select

from sv_platform.advisory.access import get_consultation
from sv_platform.advisory.models import Attachment, Consultation
from sv_platform.core.domain import InvalidInput, NotFound
from sv_platform.extensions import db

MAX_FILES = 3  # per upload: the opening of a consulta or one chat message
MAX_PER_CONSULTATION = 20
# Magic bytes → (content type, extension). The file name is never trusted.
SIGNATURES = (
    (b"%PDF-", "application/pdf", "pdf"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
)


@dataclass(frozen=True)
class CheckedFile:
    original_name: str
    content_type: str
    extension: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


def sniff(data: bytes) -> tuple[str, str] | None:
    """(content type, extension) of a PDF, JPG or PNG by its first bytes, or None."""
    for magic, content_type, extension in SIGNATURES:
        if data.startswith(magic):
            return content_type, extension
    return None


def _clean_name(name: str | None) -> str:
    base = (name or "archivo").replace("\\", "/").rsplit("/", 1)[-1].strip()
    cleaned = "".join(ch for ch in base if ch.isprintable() and ch not in '"<>|:*?')
    return (cleaned or "archivo")[:200]


_EXTENSIONS = {content_type: extension for _magic, content_type, extension in SIGNATURES}
_TRAILING_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,6}$")
_UNSAFE = re.compile(r"[^\w \-()+,]")
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10))} | {
    f"LPT{i}" for i in range(10)
}


def download_name(original_name: str | None, content_type: str) -> str:
    """The name a file is downloaded with: the uploader's words, every extension they gave
    removed (`factura.pdf.bat`, `contrato.hta`) and the one of the checked type put back
    (`factura.pdf`, `contrato.pdf`). Rule: a download can never be saved as something that
    runs when opened."""
    stem = _clean_name(original_name)
    while _TRAILING_EXTENSION.search(stem):
        stem = _TRAILING_EXTENSION.sub("", stem)
    stem = _UNSAFE.sub("_", stem.replace(".", "_")).strip(" _-")[:100] or "adjunto"
    if stem.upper() in _WINDOWS_RESERVED:
        stem = f"adjunto-{stem}"
    return f"{stem}.{_EXTENSIONS.get(content_type, 'bin')}"


def check_files(files, *, max_mb: int) -> list[CheckedFile]:
    """Read and check uploads given as (filename, stream-or-bytes) pairs: at most three,
    each at most `max_mb` MB, each a real PDF, JPG or PNG. Raises InvalidInput."""
    files = [(name, data) for name, data in files if name or data]
    if len(files) > MAX_FILES:
        raise InvalidInput(f"Puedes adjuntar hasta {MAX_FILES} archivos.", field="attachments")
    limit = int(max_mb) * 1024 * 1024
    checked = []
    for name, data in files:
        shown = _clean_name(name)
        if hasattr(data, "read"):
            data = data.read(limit + 1)
        if not data:
            raise InvalidInput(f"El archivo «{shown}» está vacío.", field="attachments")
        if len(data) > limit:
            raise InvalidInput(
                f"El archivo «{shown}» pesa más de {max_mb} MB, el máximo permitido. "
                "Reduce su tamaño o envía otro.",
                field="attachments",
            )
        kind = sniff(data)
        if kind is None:
            raise InvalidInput(
                f"El archivo «{shown}» no es un PDF, JPG ni PNG válido. Solo aceptamos esos "
                "formatos.",
                field="attachments",
            )
        checked.append(CheckedFile(shown, kind[0], kind[1], bytes(data)))
    return checked


def store(upload_dir: str, checked: CheckedFile) -> str:
    """Write the file under a random name (never the user's) and return that name."""
    folder = Path(upload_dir)
    folder.mkdir(parents=True, exist_ok=True)
    stored_name = f"{secrets.token_hex(16)}.{checked.extension}"
    (folder / stored_name).write_bytes(checked.data)
    return stored_name


def record(consultation, uploader, checked: CheckedFile, stored_name: str, now, message=None):
    """The row of a stored file, of the consulta's opening or of one chat message."""
    return Attachment(
        consultation_id=consultation.id,
        message_id=message.id if message is not None else None,
        uploaded_by=uploader.id,
        original_name=checked.original_name,
        stored_name=stored_name,
        content_type=checked.content_type,
        size=checked.size,
        created_at=now,
    )


def url_for_attachment(attachment: Attachment) -> str:
    """The path that serves a file after the access check."""
    return f"/consultas/{attachment.consultation_id}/adjuntos/{attachment.id}"


def path_of(upload_dir: str, stored_name: str) -> Path:
    """Where a stored file lives (only its base name is used: no path escapes)."""
    return Path(upload_dir) / Path(stored_name).name


def remove(upload_dir: str, stored_names: list[str]) -> None:
    """Delete stored files (a missing file is not an error)."""
    for name in stored_names:
        path_of(upload_dir, name).unlink(missing_ok=True)


def remove_after_commit(upload_dir: str, stored_names: list[str]) -> None:
    """Delete the files once the current transaction commits; keep them if it rolls back
    (their rows come back with it)."""
    if not stored_names:
        return
    session = db.session()

    def on_commit(_session):
        event.remove(session, "after_rollback", on_rollback)
        remove(upload_dir, stored_names)

    def on_rollback(_session):
        event.remove(session, "after_commit", on_commit)

    event.listen(session, "after_commit", on_commit, once=True)
    event.listen(session, "after_rollback", on_rollback, once=True)


def attachments_for(consultation: Consultation) -> list[Attachment]:
    """The files sent with the consulta's opening, in upload order (those of chat messages
    show with their message; the caller checked access)."""
    return list(
        db.session.scalars(
            select(Attachment)
            .where(Attachment.consultation_id == consultation.id, Attachment.message_id.is_(None))
            .order_by(Attachment.id)
        )
    )


def get_attachment(consultation_id, attachment_id, user):
    """(attachment, file path) if `user` may see the consulta. Raises NotFound, NotAllowed."""
    consultation = get_consultation(consultation_id, user)
    attachment = db.session.get(Attachment, int(attachment_id))
    if attachment is None or attachment.consultation_id != consultation.id:
        raise NotFound("Ese archivo no existe.")
    path = path_of(current_app.config["UPLOAD_DIR"], attachment.stored_name)
    if not path.is_file():
        raise NotFound("Ese archivo ya no está disponible.")
    return attachment, path
