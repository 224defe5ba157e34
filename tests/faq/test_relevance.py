"""Relevance over the real content: the entry a person expects comes first most of the time."""

from sv_platform.faq import services
from tests.faq.relevance import QUERIES, reciprocal_rank


def _ranks(real_content):
    ranks = {}
    for query, expected in QUERIES:
        slugs = [hit.entry.slug for hit in services.search(query, limit=10)]
        ranks[query] = (reciprocal_rank(slugs, expected), slugs[:3])
    return ranks


def test_the_expected_entry_comes_first_for_most_realistic_queries(real_content):
    assert len(QUERIES) >= 40
    ranks = _ranks(real_content)
    first = [q for q, (rr, _top) in ranks.items() if rr == 1.0]
    precision = len(first) / len(QUERIES)
    missed = {q: top for q, (rr, top) in ranks.items() if rr < 1.0}
    assert precision >= 0.8, f"P@1 {precision:.2f}; first results of the misses: {missed}"
    mrr = sum(rr for rr, _top in ranks.values()) / len(QUERIES)
    assert mrr >= 0.85, f"MRR {mrr:.2f}"


def test_function_words_never_drive_suggestions(real_content):
    """An arriendo question is not offered F29 entries because of "decir"/"declarar"."""
    items = services.suggest("quiero saber que dice mi contrato de arriendo", limit=5)
    assert all("f29" not in item["url"] for item in items)


def test_a_real_word_is_not_corrected_into_another(real_content):
    results = services.search("prestamo para pyme")
    assert results.corrected is None
    assert services.search("boletas de onorarios").corrected == "boletas honorarios"
