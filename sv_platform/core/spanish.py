"""Spanish text normalization shared by every search (FAQ, course catalog): lowercase →
no accents → no stopwords → Spanish Snowball stems. Both sides go through the same code,
so "energia" meets "energía" and "contratos" meets "contratar"."""

import re
import unicodedata
from functools import lru_cache

import snowballstemmer

WORD = re.compile(r"[^\W_]+", re.UNICODE)
MAX_QUERY_CHARS = 200
MAX_QUERY_TERMS = 12
# Stems shorter than this match exactly; longer ones also match as prefixes ("dec", the
# stem of "decir", must not find "declarar").
MIN_PREFIX = 4
# Only stems this long are stemmed again (shorter ones would lose their meaning).
MIN_RESTEM = 7

# A short list: articles, prepositions, pronouns, question words and very common verbs.
# Written without accents because they are compared after accents are stripped.
STOPWORDS = frozenset(
    """
a al algo algun alguna algunas alguno algunos ante antes aqui asi aun cada como con
contra cual cuales cuando cuanto cuanta cuantos cuantas de del desde donde dos e el ella
ellas ellos en entre era eres es esa esas ese eso esos esta estan estas este esto estos
estoy fue fueron ha han has hay he hace hacer hago la las le les lo los mas me mi mis
mucho muy nada ni no nos nosotros o os otra otro para pero poco por porque puede puedo
que quien quienes se sea ser si sin sobre solo son soy su sus tambien tan te tengo tiene
tienen toda todas todo todos tu tus u un una unas uno unos usted ustedes vez y ya yo
quiero quisiera queria necesito necesita necesitamos saber sabe se decir dice dicen digo
gustaria podria podrian deberia debo tener tenemos tienes pasa pasar favor hola buenas
buenos dias tardes gracias consulta consultar pregunta preguntar duda dudas ayuda ayudar
alguien cosa cosas bien mal tema temas caso forma manera
""".split()
)

_stemmer = snowballstemmer.stemmer("spanish")


def strip_accents(text: str) -> str:
    """ "Energía, Ñuñoa" → "Energia, Nunoa" (combining marks removed after NFKD)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str | None) -> list[str]:
    """Lowercase, unaccented words of `text` (letters and digits only)."""
    if not text:
        return []
    return WORD.findall(strip_accents(text.lower()))


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Spanish Snowball stem of an already lowercased, unaccented word."""
    return _stemmer.stemWord(word)


def terms(text: str | None) -> list[str]:
    """The stems of `text` without stopwords, in order (duplicates kept)."""
    return [stem(w) for w in words(text) if w not in STOPWORDS]


def normalize(text: str | None) -> str:
    """The stored, indexed form of a document field."""
    return " ".join(terms(text))


def query_terms(query: str | None) -> list[str]:
    """The distinct stems of a user's query, capped in length and number.

    Whatever the user typed (quotes, `*`, `NEAR(`, SQL, emoji) comes out as plain
    alphanumeric stems, so nothing of it can reach the full-text syntax.
    """
    seen: dict[str, None] = {}
    for term in terms((query or "")[:MAX_QUERY_CHARS]):
        seen.setdefault(term, None)
    return list(seen)[:MAX_QUERY_TERMS]


Form = tuple[str, bool]  # (stem, matches as a prefix too)


def alternatives(term: str) -> tuple[Form, ...]:
    """The forms one query stem is searched by: itself as a prefix, and its own stem as an
    exact word.

    Snowball sometimes leaves a longer stem for the plural than for the singular
    ("sociedades" → "sociedad", but "sociedad" → "socied"); stemming the stem again gives
    the shorter form, and matching it exactly finds the singular without also finding every
    word that merely starts like it ("desped" → "desp" finds "despido", not "después").
    """
    forms: list[Form] = [(term, len(term) >= MIN_PREFIX)]
    again = stem(term) if len(term) >= MIN_RESTEM else term
    if again != term and len(again) >= MIN_PREFIX:
        forms.append((again, False))
    return tuple(forms)


@lru_cache(maxsize=65536)
def word_stems(raw_word: str) -> tuple[str, ...]:
    """The stems of one word as it appears in a text (none for a stopword)."""
    return tuple(stem(w) for w in words(raw_word) if w not in STOPWORDS)


def stem_matches(stemmed: str, forms: tuple[Form, ...]) -> bool:
    """Does an indexed stem match one of the query forms (exactly or as a prefix)?"""
    return any(stemmed == form or (prefix and stemmed.startswith(form)) for form, prefix in forms)


def matches(word: str, forms: tuple[Form, ...]) -> bool:
    """Does a lowercased, unaccented word of a text match one of the query forms?"""
    return word not in STOPWORDS and stem_matches(stem(word), forms)
