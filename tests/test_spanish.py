"""The one normalization used for documents and queries."""

import pytest

from sv_platform.core.spanish import (
    MAX_QUERY_TERMS,
    alternatives,
    matches,
    normalize,
    query_terms,
    strip_accents,
)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("energía", "ENERGIA"),
        ("contratos", "contrato"),
        ("contratar", "contratación"),
        ("postulaciones", "postulación"),
        ("Países", "pais"),
        ("camiones", "camión"),
    ],
)
def test_inflections_accents_and_case_meet_on_one_stem(a, b):
    assert normalize(a) == normalize(b) != ""


def test_stopwords_and_punctuation_are_dropped():
    assert normalize("¿Cómo puedo registrar la marca de mi negocio?") == "registr marc negoci"


def test_strip_accents_keeps_letters():
    assert strip_accents("Ñuñoa, acción, pingüino") == "Nunoa, accion, pinguino"


@pytest.mark.parametrize(
    "hostile", ['"', "*", "NEAR(", "') OR 1=1 --", "((a)) -b", "🙂🙂", "\x00\n\t", "a" * 5000]
)
def test_queries_become_plain_alphanumeric_stems(hostile):
    terms = query_terms(hostile)
    assert len(terms) <= MAX_QUERY_TERMS
    assert all(t.isalnum() for t in terms)


def test_long_queries_are_capped():
    terms = query_terms(" ".join(f"palabra{i}" for i in range(500)))
    assert len(terms) == MAX_QUERY_TERMS


def test_plural_stem_also_finds_the_singular_form():
    forms = alternatives(query_terms("sociedades")[0])
    assert matches("sociedad", forms)
    assert matches("sociedades", forms)
    assert not matches("socio", forms)


def test_full_text_expressions_quote_every_form():
    from sv_platform.faq.search import fts5_expression, tsquery_expression

    groups = [alternatives(t) for t in query_terms('sociedades "iva" NEAR(')]
    assert fts5_expression(groups) == '("sociedad"* OR "socied") AND ("iva") AND ("near"*)'
    assert tsquery_expression(groups, "any", "AB") == (
        "('sociedad':*AB | 'socied':AB) | ('iva':AB) | ('near':*AB)"
    )
