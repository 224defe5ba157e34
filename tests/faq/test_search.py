"""search() and suggest(): Spanish-aware matching, ranking, typos, hostile input, sync."""

import pytest

from sv_platform.faq import services


def questions(results) -> list[str]:
    return [hit.entry.question for hit in results]


@pytest.fixture
def corpus(make_entry):
    return {
        "energy": make_entry(
            question="¿Cómo bajo el consumo de energía de mi local?",
            answer="Cambia a iluminación LED y revisa tu tarifa eléctrica.",
            area="sustainability",
            tags=["eficiencia"],
        ),
        "contract": make_entry(
            question="¿Qué debe decir un contrato de trabajo?",
            answer="Las partes, la función, la jornada y la remuneración.",
        ),
        "fund": make_entry(
            question="¿Cuándo abre la postulación a fondos Sercotec?",
            answer="Revisa el calendario en sercotec.cl.",
            area="general",
        ),
        "company": make_entry(
            question="¿Qué sociedad me conviene formar?",
            answer="Una SpA permite sumar socios con facilidad.",
        ),
    }


@pytest.mark.parametrize(
    ("query", "key"),
    [
        ("energia", "energy"),  # no accent typed
        ("ENERGÍA", "energy"),  # upper case
        ("Energías", "energy"),  # plural
        ("contratos", "contract"),  # plural noun
        ("contratar", "contract"),  # verb form
        ("contratación", "contract"),  # derived noun
        ("postulaciones", "fund"),  # plural of postulación
        ("postular", "fund"),  # verb form
        ("sociedades", "company"),  # plural with a longer stem than the singular
        ("consumo energía local", "energy"),
    ],
)
def test_accent_case_plural_and_verb_forms_match(corpus, query, key):
    results = services.search(query)
    assert questions(results)[0] == corpus[key].question


def test_every_word_must_match_before_partial_matches(corpus):
    results = services.search("contrato jornada")
    assert questions(results) == [corpus["contract"].question]
    assert not results.partial


def test_partial_matches_when_no_entry_has_every_word(corpus):
    results = services.search("contrato dinosaurio")
    assert questions(results)[0] == corpus["contract"].question
    assert results.partial


def test_question_match_ranks_above_answer_match(make_entry):
    in_answer = make_entry(
        question="¿Qué trámites siguen al inicio de actividades?",
        answer="Después debes emitir tus facturas electrónicas cada mes.",
    )
    in_question = make_entry(
        question="¿Cómo emito facturas electrónicas?", answer="Desde el sistema gratuito del SII."
    )
    assert questions(services.search("factura"))[:2] == [in_question.question, in_answer.question]


def test_area_filter(corpus):
    assert questions(services.search("energía", area="legal")) == []
    assert questions(services.search("energía", area="sustainability")) == [
        corpus["energy"].question
    ]


def test_matched_words_are_highlighted(corpus):
    hit = services.search("contratos").hits[0]
    assert "<mark>contrato</mark>" in str(hit.question_html)


def test_highlight_escapes_the_text_first(make_entry):
    make_entry(
        question="¿Qué pasa con <script>alert(1)</script> en una factura?",
        answer="<img src=x onerror=alert(2)> factura",
    )
    hit = services.search("factura").hits[0]
    html = str(hit.question_html) + str(hit.snippet_html)
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;" in html
    assert "<mark>factura</mark>" in html


def test_typo_falls_back_to_the_closest_indexed_word(corpus):
    results = services.search("contarto")
    assert questions(results) == [corpus["contract"].question]
    assert results.corrected == "contrato"


def test_typo_correction_keeps_the_other_words(corpus):
    results = services.search("sociedda conviene")
    assert questions(results) == [corpus["company"].question]
    assert results.corrected == "sociedad conviene"


@pytest.mark.parametrize(
    "hostile",
    [
        '"',
        "*",
        "-",
        "NEAR(",
        "NEAR(contrato energía, 2)",
        "') OR 1=1 --",
        '"contrato',
        "contrato*",
        "(energía) AND -contrato",
        "a" * 5000,
        "🙂💼🚀",
        "   ",
        "",
        None,
        "¿¡!?.,;",
        "energía " * 2000,
        "\x00",
        "OR AND NOT",
    ],
)
def test_hostile_queries_never_raise(corpus, hostile):
    results = services.search(hostile)
    assert len(results) <= services.SEARCH_LIMIT
    assert isinstance(services.suggest(hostile), list)


def test_fts_syntax_words_are_searched_as_plain_words(make_entry, corpus):
    near = make_entry(question="¿Hay oficinas de Sercotec near de mi casa?", answer="Sí.")
    assert questions(services.search("NEAR(")) == [near.question]


def test_empty_and_punctuation_queries_return_nothing(corpus):
    for query in ("", "   ", "¿?!", "de la que"):
        results = services.search(query)
        assert results.empty_query and len(results) == 0


def test_index_follows_edits(corpus):
    entry = corpus["energy"]
    services.update_entry(
        entry.id,
        question="¿Cómo reciclo los envases de mi local?",
        answer="Con un sistema de gestión de la Ley REP.",
    )
    assert questions(services.search("reciclaje")) == [entry.question]
    assert entry.question not in questions(services.search("energía"))


def test_index_follows_deletes(corpus):
    entry = corpus["contract"]
    services.delete_entry(entry.id)
    assert questions(services.search("contrato")) == []
    assert services.suggest("contrato") == []


def test_unpublished_entries_never_appear(make_entry):
    draft = make_entry(
        question="¿Borrador sobre cooperativas?", answer="Cooperativas.", published=False
    )
    assert questions(services.search("cooperativas")) == []
    assert services.suggest("cooperativa") == []
    assert services.search("cooperatvas").hits == []  # not even through typo correction
    assert draft not in services.most_viewed(10)
    assert draft not in services.published_entries()
    services.set_published(draft.id, True)
    assert questions(services.search("cooperativas")) == [draft.question]
    services.set_published(draft.id, False)
    assert questions(services.search("cooperativas")) == []


def test_suggest_returns_plain_dicts(corpus):
    items = services.suggest("contratos", limit=5)
    entry = corpus["contract"]
    assert items == [
        {
            "id": entry.id,
            "question": entry.question,
            "url": f"/preguntas-frecuentes/{entry.id}-{entry.slug}",
            "snippet": "Las partes, la función, la jornada y la remuneración.",
        }
    ]


def test_suggest_limit_and_area(make_entry):
    for n in range(8):
        make_entry(
            question=f"¿Pregunta número {n} sobre boletas?",
            answer="Boletas.",
            area="legal" if n % 2 else "general",
        )
    assert len(services.suggest("boletas")) == 5
    assert {
        services.get_entry(i["id"]).area for i in services.suggest("boletas", area="general")
    } == {"general"}


@pytest.mark.parametrize(
    ("query", "expected_slug"),
    [
        ("boleta de honorarios retencion", "boleta-honorarios-retencion-2025"),
        ("registrar marca inapi", "registrar-marca-inapi"),
        ("que es la ley rep", "ley-rep-que-es"),
    ],
)
def test_real_content_answers_common_questions(real_content, query, expected_slug):
    slugs = [hit.entry.slug for hit in services.search(query)][:3]
    assert expected_slug in slugs


def test_related_entries_share_words_and_area(corpus, make_entry):
    close = make_entry(question="¿Qué cláusulas lleva un contrato de arriendo?", answer="Varias.")
    make_entry(
        question="¿Qué cláusulas lleva un contrato de energía?",
        answer="Otras.",
        area="sustainability",
    )
    assert services.related(corpus["contract"]) == [close]


def test_most_viewed_lists_only_viewed_entries(corpus):
    assert services.most_viewed() == []
    for _ in range(2):
        services.record_view(corpus["fund"].id)
    services.record_view(corpus["energy"].id)
    assert services.most_viewed() == [corpus["fund"], corpus["energy"]]
    assert services.most_viewed(area="general") == [corpus["fund"]]


RANKING_QUERIES = [
    "boleta de honorarios retencion",
    "registrar marca inapi",
    "que es la ley rep",
    "contrato de trabajo",
    "iniciar actividades sii",
    "reciclaje envases",
    "huella de carbono",
    "factura electronica",
]


@pytest.mark.postgres
def test_ranking_is_the_same_on_sqlite_and_postgresql(real_content, template_db, tmp_path):
    """Under SV_TEST_DATABASE_URL this test's database is PostgreSQL (tsvector + GIN):
    the same content on a SQLite copy (FTS5) gives the same top results."""
    import shutil

    from sv_platform import create_app
    from sv_platform.extensions import db
    from tests.conftest import _test_settings, postgres_test_url

    if postgres_test_url() is None:
        pytest.skip("SV_TEST_DATABASE_URL (PostgreSQL) not set")

    def top(query):
        return [hit.entry.slug for hit in services.search(query)][:3]

    on_postgres = {query: top(query) for query in RANKING_QUERIES}
    sqlite_file = tmp_path / "ranking.sqlite3"
    shutil.copyfile(template_db, sqlite_file)
    sqlite_app = create_app(
        {**_test_settings(), "SQLALCHEMY_DATABASE_URI": f"sqlite:///{sqlite_file}"}
    )
    with sqlite_app.app_context():
        services.load_content(real_content)
        on_sqlite = {query: top(query) for query in RANKING_QUERIES}
        db.session.remove()
        db.engine.dispose()
    assert all(on_postgres.values())
    assert on_postgres == on_sqlite
