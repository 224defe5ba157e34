"""Typo correction for searches: a word that matches nothing and is not a Spanish word is
replaced by the closest word of the published content (Damerau-Levenshtein distance).

Real words are kept even when the content never uses them ("prestamo" stays "prestamo",
it is not "corrected" to "presta"): pyspellchecker's Spanish dictionary, accent-folded,
tells a real word from a typo. The dictionary is a file shipped in the package (the same
in every process); the content's words are read from the database at each correction.
"""

from functools import lru_cache

from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein

from sv_platform.core.spanish import STOPWORDS, stem, strip_accents, words

# The shortest word worth correcting, and the edits allowed by length.
MIN_LENGTH = 4


@lru_cache(maxsize=1)
def _spanish() -> tuple[frozenset[str], frozenset[str]]:
    """(accent-folded Spanish words, their stems) from pyspellchecker's dictionary."""
    from spellchecker import SpellChecker

    folded = frozenset(
        strip_accents(w.lower()) for w in SpellChecker(language="es").word_frequency.keys()
    )
    return folded, frozenset(stem(w) for w in folded)


def is_spanish(word: str) -> bool:
    """A real Spanish word (or an inflection of one): never a typo to correct."""
    folded, stems = _spanish()
    return word in folded or stem(word) in stems


def max_edits(word: str) -> int:
    return 1 if len(word) <= 5 else 2


def closest(word: str, vocabulary: list[str]) -> str | None:
    """The content word nearest to `word` within max_edits, preferring the same first
    letter and then the most similar length; None when nothing is near enough."""
    limit = max_edits(word)
    found = process.extract(
        word, vocabulary, scorer=DamerauLevenshtein.distance, score_cutoff=limit, limit=20
    )
    if not found:
        return None
    best = min(
        found, key=lambda item: (item[1], item[0][0] != word[0], abs(len(item[0]) - len(word)))
    )
    return best[0]


def content_words(text: str | None) -> set[str]:
    """The folded words of a text that can be offered as corrections."""
    return {
        w for w in words(text) if len(w) >= MIN_LENGTH and w not in STOPWORDS and not w.isdigit()
    }
