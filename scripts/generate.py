"""Sample text from a character language model checkpoint (torch only: no Lightning, no Hydra).

Examples::

    python scripts/generate.py outputs/<date>/<time>/checkpoints/last.ckpt --prompt "ROMEO:"
    python scripts/generate.py last.ckpt --prompt "To be" --length 500 --temperature 0.6 \\
        --top-k 10 --seed 0

The checkpoint must hold a character language model (a ``LanguageModelTask`` run, such as
``experiment=shakespeare``); another one is refused with the experiment it was trained with.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from seqmodels.models.spec import CheckpointMismatch
from seqmodels.tasks.language_model.predictor import TextGenerator


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="a .ckpt file written by a language-model training run")
    parser.add_argument(
        "--prompt", default=None, help="text to continue (default: the most frequent character)"
    )
    parser.add_argument("--length", type=int, default=500, help="characters to generate")
    parser.add_argument("--temperature", type=float, default=0.8, help="sampling temperature > 0")
    parser.add_argument("--top-k", type=int, default=None, help="sample among the k most likely")
    parser.add_argument("--seed", type=int, default=None, help="seed, for a reproducible sample")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, ...")
    args = parser.parse_args(argv)

    if not Path(args.checkpoint).is_file():
        parser.error(f"checkpoint not found: {args.checkpoint}")
    try:
        text_generator = TextGenerator.from_checkpoint(args.checkpoint, map_location=args.device)
    except CheckpointMismatch as error:
        parser.error(
            f"{error}; generate.py samples from character language models: train one with "
            "experiment=shakespeare"
        )
    except ValueError as error:  # not a training run's checkpoint
        parser.error(str(error))
    generator = None
    if args.seed is not None:
        generator = torch.Generator(args.device).manual_seed(args.seed)
    try:
        text = text_generator.generate(
            args.prompt, args.length, args.temperature, args.top_k, generator
        )
    except ValueError as error:  # e.g. a prompt character the model has never seen
        parser.error(str(error))
    print(text)
    return text


if __name__ == "__main__":
    main()
