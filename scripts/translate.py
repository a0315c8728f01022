"""Decode sentences with a trained seq2seq checkpoint (torch only: no Lightning, no Hydra).

Examples::

    python scripts/translate.py outputs/DATE/TIME/checkpoints/last.ckpt "je suis fatigue ."
    echo "tu es en retard ." | python scripts/translate.py model.ckpt --beam-size 4

Inputs are tokenized as in training (French normalised into words, or characters for the
synthetic tasks); words the model never saw become ``<unk>``. The checkpoint must hold a
sequence-to-sequence model (a ``Seq2SeqTask`` run, such as ``experiment=translate``); another
one is refused with the experiment it was trained with.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seqmodels.models.spec import CheckpointMismatch
from seqmodels.tasks.seq2seq.predictor import Translator


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="a Seq2SeqTask checkpoint (.ckpt)")
    parser.add_argument("sentences", nargs="*", help="inputs; read from stdin, one a line, if none")
    parser.add_argument("--beam-size", type=int, default=None, help="default: the task's")
    parser.add_argument("--max-len", type=int, default=None, help="default: the task's")
    args = parser.parse_args(argv)
    if not Path(args.checkpoint).is_file():
        parser.error(f"checkpoint not found: {args.checkpoint}")
    try:
        translator = Translator.from_checkpoint(args.checkpoint)
    except CheckpointMismatch as error:
        parser.error(
            f"{error}; translate.py decodes with sequence-to-sequence models: train one with "
            "experiment=translate or experiment=reverse"
        )
    except ValueError as error:  # not a training run's checkpoint
        parser.error(str(error))
    sentences = args.sentences or [line.rstrip("\n") for line in sys.stdin if line.strip()]
    if not sentences:
        parser.error("no input sentence (give them as arguments or on stdin)")
    for source, output in zip(
        sentences, translator.translate(sentences, args.beam_size, args.max_len), strict=True
    ):
        print(f"{source}\t{output}")


if __name__ == "__main__":
    main()
