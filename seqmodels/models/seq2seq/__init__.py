"""The seq2seq head: attention, encoder-decoder, greedy and beam-search decoding (torch only).

* :mod:`~seqmodels.models.seq2seq.attention`: :class:`Attention` and its :class:`Memory`;
* :mod:`~seqmodels.models.seq2seq.model`: :class:`Encoder`, :class:`Bridge`, :class:`Decoder`,
  :class:`Seq2Seq`;
* :mod:`~seqmodels.models.seq2seq.decoding`: :func:`greedy_search` and :func:`beam_search` over a
  step function, and their :class:`Generation`;
* :mod:`~seqmodels.models.seq2seq.legacy`: :func:`upgrade_spec` for older checkpoints' specs.
"""

from seqmodels.models.seq2seq.attention import ATTENTIONS, Attention, Memory
from seqmodels.models.seq2seq.decoding import Generation, beam_search, greedy_search
from seqmodels.models.seq2seq.legacy import upgrade_spec
from seqmodels.models.seq2seq.model import Bridge, Decoder, DecoderState, Encoder, Seq2Seq

__all__ = [
    "ATTENTIONS",
    "Attention",
    "Bridge",
    "Decoder",
    "DecoderState",
    "Encoder",
    "Generation",
    "Memory",
    "Seq2Seq",
    "beam_search",
    "greedy_search",
    "upgrade_spec",
]
