r"""Language modelling's predictor: :class:`TextGenerator`, from a checkpoint with torch only.

No Lightning, no Hydra: this module imports neither, nor the task's LightningModule.
"""

from __future__ import annotations

import os

import torch

from seqmodels.models.char_lm import CharLM
from seqmodels.models.spec import load_checkpoint
from seqmodels.preprocessing import Vocabulary

__all__ = ["TextGenerator"]


class TextGenerator:
    r"""Samples text from a character language model.

    Args:
        model: a :class:`~seqmodels.models.CharLM`.
        vocab: its vocabulary, id -> character.

    Example::

        >>> text_generator = TextGenerator.from_checkpoint("last.ckpt")  # doctest: +SKIP
        >>> seeded = torch.Generator().manual_seed(0)
        >>> text_generator.generate("To be", 20, generator=seeded)  # doctest: +SKIP
        'To be a man and the pr'
    """

    def __init__(self, model: CharLM, vocab: Vocabulary) -> None:
        self.model, self.vocab = model, vocab

    @classmethod
    def from_checkpoint(
        cls, path: str | os.PathLike, map_location: str | torch.device = "cpu"
    ) -> TextGenerator:
        """The generator of a ``LanguageModelTask`` checkpoint (``task.py`` beside this file).

        Raises:
            seqmodels.models.spec.CheckpointMismatch: the checkpoint's model is not a
                :class:`~seqmodels.models.CharLM`; the message names its experiment.
        """
        model, hparams = load_checkpoint(path, map_location, CharLM)
        return cls(model, Vocabulary(hparams["vocab"]))

    def generate(
        self,
        prompt: str | None = None,
        max_new_tokens: int = 200,
        temperature: float = 1.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
    ) -> str:
        """The prompt followed by ``max_new_tokens`` sampled characters (see
        :meth:`seqmodels.models.CharLM.generate`); None prompts with the most frequent character.

        Raises:
            ValueError: a prompt character that is not in the vocabulary.
        """
        prompt = self.vocab.itos[0] if prompt is None else prompt
        device = next(self.model.parameters()).device
        prompt_ids = torch.tensor(self.vocab.encode(prompt), device=device)
        new = self.model.generate(prompt_ids, max_new_tokens, temperature, top_k, generator)
        return prompt + "".join(self.vocab.decode(new))
