"""A token vocabulary: tokens to integer ids and back."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

PAD = "<pad>"
UNK = "<unk>"
SOS = "<sos>"  # start and end of a sequence, for seq2seq
EOS = "<eos>"


class Vocabulary:
    r"""Maps tokens (words, characters, ...) to integer ids and back.

    The vocabulary is fully described by its ``itos`` list (id -> token), so it can be stored in a
    checkpoint as a plain list and rebuilt with ``Vocabulary(itos)``. If the list holds ``"<unk>"``,
    unknown tokens encode to its id; otherwise encoding an unknown token is an error. If it holds
    ``"<pad>"``, :attr:`pad_index` is its id.

    Args:
        itos: the tokens, in id order. Must be distinct.

    Example::

        >>> vocab = Vocabulary.build([["a", "b", "a"], ["c"]], specials=[PAD, UNK])
        >>> vocab.itos
        ['<pad>', '<unk>', 'a', 'b', 'c']
        >>> vocab.encode(["a", "zebra"])
        [2, 1]
        >>> vocab.decode([3, 4])
        ['b', 'c']
    """

    def __init__(self, itos: Sequence[str]) -> None:
        self.itos = list(itos)
        self.stoi = {token: index for index, token in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            repeated = sorted(t for t, n in Counter(self.itos).items() if n > 1)
            raise ValueError(f"itos must hold distinct tokens, but these repeat: {repeated}")

    @classmethod
    def build(
        cls,
        sequences: Iterable[Iterable[str]],
        specials: Sequence[str] = (),
        min_freq: int = 1,
        max_size: int | None = None,
    ) -> Vocabulary:
        """Builds a vocabulary from token sequences (a string counts as a sequence of characters).

        The ``specials`` come first, in the order given; then the tokens seen at least ``min_freq``
        times, most frequent first (ties in order of first appearance), at most ``max_size`` of
        them (specials not counted).
        """
        if min_freq < 1:
            raise ValueError(f"min_freq must be >= 1, got {min_freq}")
        if max_size is not None and max_size < 0:
            raise ValueError(f"max_size must be >= 0 or None, got {max_size}")
        counts = Counter()
        for sequence in sequences:
            counts.update(sequence)
        for special in specials:
            counts.pop(special, None)
        tokens = [t for t, n in counts.most_common() if n >= min_freq][:max_size]
        return cls([*specials, *tokens])

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def __repr__(self) -> str:
        return f"Vocabulary(size={len(self)}, first={self.itos[:5]})"

    @property
    def pad_index(self) -> int | None:
        """The id of ``"<pad>"``, or None if the vocabulary has no padding token."""
        return self.stoi.get(PAD)

    @property
    def unk_index(self) -> int | None:
        """The id of ``"<unk>"``, or None if unknown tokens are an error."""
        return self.stoi.get(UNK)

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """Token ids; unknown tokens map to ``"<unk>"``, or raise ValueError if there is none."""
        unk = self.unk_index
        if unk is not None:
            return [self.stoi.get(token, unk) for token in tokens]
        ids = []
        for token in tokens:
            if token not in self.stoi:
                raise ValueError(
                    f"token {token!r} is not in the vocabulary (size {len(self)}, no {UNK!r})"
                )
            ids.append(self.stoi[token])
        return ids

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens of the ids (a list of ints or a 1-D tensor)."""
        return [self.itos[int(index)] for index in ids]
