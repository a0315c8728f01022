"""Text preprocessing shared by training data and inference: tokenizers, truncation,
normalisation. Plain Python, no Lightning."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["KEEPS", "normalize", "tokenize", "truncate"]

TOKEN_PATTERN = re.compile(r"'?\w+|[^\w\s]")
HTML_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
KEEPS = ("head", "tail", "both")


def tokenize(text: str, remove_html_breaks: bool = False) -> list[str]:
    """Lowercases ``text`` and splits it into words (with a leading apostrophe, as in ``'s``) and
    single punctuation marks. With ``remove_html_breaks``, HTML line breaks (``<br />``,
    ``<br>``, ``<BR/>``, ...) count as spaces, as in scraped reviews.

    >>> tokenize("It's a GREAT film!")
    ['it', "'s", 'a', 'great', 'film', '!']
    >>> tokenize("Great.<br /><br />See it", remove_html_breaks=True)
    ['great', '.', 'see', 'it']
    """
    if remove_html_breaks:
        text = HTML_BREAK.sub(" ", text)
    return TOKEN_PATTERN.findall(text.lower())


def truncate(tokens: list[str], max_length: int | None, keep: str = "head") -> list[str]:
    """At most ``max_length`` tokens (None: all of them), keeping the ``"head"`` (the first ones),
    the ``"tail"`` (the last ones) or ``"both"`` (the first ``max_length - max_length // 2`` and
    the last ``max_length // 2``).

    >>> truncate(list("abcdefg"), 4, "both")
    ['a', 'b', 'f', 'g']
    """
    if keep not in KEEPS:
        raise ValueError(f"keep must be one of {KEEPS}, got {keep!r}")
    if max_length is not None and max_length < 1:
        raise ValueError(f"max_length must be >= 1 or None, got {max_length}")
    if max_length is None or len(tokens) <= max_length:
        return tokens
    if keep == "head":
        return tokens[:max_length]
    if keep == "tail":
        return tokens[-max_length:]
    tail = max_length // 2
    return tokens[: max_length - tail] + (tokens[-tail:] if tail else [])


def normalize(text: str) -> str:
    """Lowercase ASCII with accents stripped, ``.!?`` split off and other symbols turned to spaces
    (the PyTorch seq2seq tutorial's normalisation).

    >>> normalize("Ça alors !  J'ai   gagné.")
    'ca alors ! j ai gagne .'
    """
    text = unicodedata.normalize("NFD", text.lower().strip())
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    text = re.sub(r"([.!?])", r" \1", text)
    return re.sub(r"[^a-z.!?]+", " ", text).strip()
