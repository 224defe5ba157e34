"""FAQ fixtures: entries made through the real service, and the real faq/ content loaded."""

from pathlib import Path

import pytest

from sv_platform.faq import services

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def make_entry(app):
    """make_entry(question=..., answer=..., area="legal", published=True) → FaqEntry."""

    def factory(
        question="¿Cómo emito una boleta de honorarios?",
        answer="En sii.cl.",
        area="legal",
        tags=(),
        published=True,
        **extra,
    ):
        return services.create_entry(
            question=question, answer=answer, area=area, tags=tags, published=published, **extra
        )

    return factory


@pytest.fixture
def real_content(app):
    """The repository's faq/*.yml, imported as `flask sv content load` does."""
    services.load_content(REPO)
    return REPO
