"""Downloads never keep a name that would run when opened: the checked type decides it."""

import pytest
from werkzeug.http import parse_options_header

from sv_platform.advisory import attachments
from tests.advisory.conftest import PDF, PNG


@pytest.mark.parametrize(
    ("uploaded", "content", "served"),
    [
        ("factura.pdf.bat", PDF, "factura.pdf"),
        ("contrato.hta", PDF, "contrato.pdf"),
        ("poly.html", PNG, "poly.png"),
        ("boleta.exe.jpg.scr", PNG, "boleta.png"),
        ('x"; filename=evil.exe', PDF, "x_ filename_evil.pdf"),
    ],
)
def test_a_disguised_upload_downloads_with_its_checked_extension(
    make_consultation, login, user, legal_advisor, uploaded, content, served
):
    c = make_consultation(user, files=[(uploaded, content)])
    item = attachments.attachments_for(c)[0]
    assert item.stored_name != uploaded and not item.stored_name.startswith(uploaded[:4])
    with login(legal_advisor).get(f"/consultas/{c.id}/adjuntos/{item.id}") as response:
        assert response.status_code == 200
        disposition = response.headers["Content-Disposition"]
        kind, options = parse_options_header(disposition)
        assert kind == "attachment"
        assert options["filename"] == served
        for dangerous in (".bat", ".hta", ".html", ".exe", ".scr"):
            assert dangerous not in disposition
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in response.headers["Content-Security-Policy"]
        assert response.data == content
