"""The parts of the consulta page that follow its state, and their version.

The page, `GET /consultas/<id>/estado` and the chat's `join` render them with the same
macros (`templates/advisory/_live.html`). The version is a hash of what they render for
the viewer (the CSRF token left out): anything a region shows that changes — status,
advisor, history, notices, availability, the exit survey, a deadline's wording — changes
it, so a page whose version the join confirms shows exactly what a fetch would.
"""

import hashlib

from flask import get_template_attribute
from flask_wtf.csrf import generate_csrf

from sv_platform.advisory import services
from sv_platform.advisory.forms import CloseForm
from sv_platform.core.forms import ConfirmForm

# The element ids of the parts that change with the state.
REGIONS = (
    "estado",
    "asignacion",
    "aviso-estado",
    "acciones",
    "cierre",
    "chat-aviso",
    "historial",
)


def regions(page, action_form=None, close_form=None) -> dict:
    """Each region of `page` rendered for its viewer, by element id."""
    action_form = action_form or ConfirmForm()
    close_form = close_form or CloseForm(formdata=None)
    return {
        name: get_template_attribute("advisory/_live.html", name.replace("-", "_"))(
            page, action_form, close_form
        )
        for name in REGIONS
    }


def version(rendered: dict, page) -> str:
    """The version of the rendered regions (without this request's CSRF token)."""
    token = generate_csrf()
    digest = hashlib.sha256(f"{page.consultation.status}\0{page.can_post}".encode())
    for name in REGIONS:
        digest.update(b"\0" + str(rendered[name]).replace(token, "").encode())
    return digest.hexdigest()[:20]


def current_version(consultation_id: int, user) -> str:
    """The version a fresh page would have now, read in the current transaction. The join
    calls it after the socket entered the room and the read began anew (`read_anew`), so a
    change committed before the join is in it and a later one is broadcast to the room."""
    page = services.consultation_state(consultation_id, user)
    return version(regions(page), page)
