"""Model specs of older checkpoints, rewritten to today's names.

Before the seq2seq head moved into :mod:`seqmodels.models`, checkpoints recorded
``{"_target_": "seqmodels.seq2seq.Seq2Seq", "attention": "luong", "score": "general", ...}``
(or ``seqmodels.Seq2Seq``). :func:`upgrade_spec` maps such a spec to the one that builds the same
model (same ``state_dict`` keys), so those checkpoints still load.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from seqmodels.models.seq2seq.attention import ATTENTIONS

__all__ = ["upgrade_spec"]

_TARGETS = {
    "seqmodels.seq2seq.Seq2Seq": "seqmodels.models.Seq2Seq",
    "seqmodels.Seq2Seq": "seqmodels.models.Seq2Seq",
}
# the old (attention, score) pairs; the score only mattered for Luong attention
_ATTENTIONS = {
    ("none", "dot"): "none",
    ("none", "general"): "none",
    ("bahdanau", "dot"): "bahdanau",
    ("bahdanau", "general"): "bahdanau",
    ("luong", "dot"): "luong_dot",
    ("luong", "general"): "luong_general",
}


def upgrade_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the model spec ``spec`` with old seq2seq names replaced by today's.

    * ``_target_`` ``seqmodels.seq2seq.Seq2Seq`` or ``seqmodels.Seq2Seq`` becomes
      ``seqmodels.models.Seq2Seq``;
    * the old pair ``attention`` (``none | bahdanau | luong``) plus ``score`` (``dot | general``,
      defaults ``luong`` and ``general``) becomes the one option ``attention``:
      ``none | bahdanau | luong_dot | luong_general``.

    Any other spec is returned unchanged. A pair that has no equivalent raises ``ValueError``.

    Example::

        >>> upgrade_spec({"_target_": "seqmodels.seq2seq.Seq2Seq", "attention": "luong",
        ...               "score": "dot"})
        {'_target_': 'seqmodels.models.Seq2Seq', 'attention': 'luong_dot'}
    """
    spec = dict(spec)
    target = spec.get("_target_")
    if target not in _TARGETS:
        return spec
    spec["_target_"] = _TARGETS[target]
    old = (spec.get("attention", "luong"), spec.pop("score", "general"))
    if old not in _ATTENTIONS:
        raise ValueError(
            f"model spec {target!r} with attention={old[0]!r}, score={old[1]!r}: the options "
            f"attention and score were merged into one, attention: {' | '.join(ATTENTIONS)} "
            "(old attention='luong' with score='dot' or 'general' is 'luong_dot' or "
            "'luong_general'), and this pair has no equivalent"
        )
    spec["attention"] = _ATTENTIONS[old]
    return spec
