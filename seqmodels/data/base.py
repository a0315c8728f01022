r"""The contract between a data module, its model and its task: typed fields, not dicts.

A data module publishes what the model and the task need to know about the data (sizes,
vocabularies, labels, the scaler) as a :class:`DataSpec` dataclass returned by
:meth:`SequenceDataModule.describe`. Each field is named after the argument it fills: the fields
listed in ``model_fields`` complete the model spec dict, the others are arguments of the task.
:func:`seqmodels.train.build_task_and_data` is the one place that joins them::

    data = datamodule.describe()
    model = {**cfg.model, **data.model_arguments()}
    task = Task(model, **data.task_arguments())
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import lightning as L

__all__ = [
    "CharTextSpec",
    "DataSpec",
    "PairsSpec",
    "SequenceDataModule",
    "SeriesSpec",
    "TextClassificationSpec",
]


@dataclass(frozen=True)
class DataSpec:
    """What a data module tells its model and task; subclasses add the typed fields.

    Fields named in :attr:`model_fields` are arguments of the model (its spec dict); the others
    are arguments of the task. Values are plain data (ints, floats, lists of strings), so the task
    keeps them in its checkpoint, which then loads with ``torch.load(weights_only=True)``.
    """

    model_fields: ClassVar[tuple[str, ...]] = ()

    def model_arguments(self) -> dict[str, Any]:
        """The fields that complete the model spec dict, by argument name."""
        return {name: getattr(self, name) for name in self.model_fields}

    def task_arguments(self) -> dict[str, Any]:
        """The fields that are task arguments, by argument name."""
        return {
            field.name: getattr(self, field.name)
            for field in dataclasses.fields(self)
            if field.name not in self.model_fields
        }

    def check_task(self, hyperparameters: Mapping[str, Any]) -> None:
        """Check that a task (say, loaded from a checkpoint) was built for this data.

        Args:
            hyperparameters: the task's recorded arguments (``task.hparams``); arguments it was
                built without (None) are not checked.

        Raises:
            ValueError: naming the task arguments whose values differ from this data's.
        """
        differ = [
            name
            for name, value in self.task_arguments().items()
            if hyperparameters.get(name) is not None and hyperparameters[name] != value
        ]
        if differ:
            raise ValueError(
                f"the data module's {', '.join(differ)} differ from the task's (e.g. a checkpoint "
                "trained on other data): build the data with the options used in training"
            )


@dataclass(frozen=True)
class SeriesSpec(DataSpec):
    """Windows of a series for forecasting (:class:`~seqmodels.data.series.SeriesDataModule`).

    Attributes:
        input_size: ``F``, the values per step (target and covariates).
        output_size: the horizon, values forecast per window.
        seq_len: steps per input window.
        target_shift, target_scale: the target's scaling, fitted on the training part: original
            value = scaled value * target_scale + target_shift.
        season: season length of the seasonal-naive baseline, or None.
        mase_scale: in-sample MAE of the seasonal-naive (or naive) one-step forecast.
    """

    model_fields = ("input_size", "output_size", "seq_len")

    input_size: int
    output_size: int
    seq_len: int
    target_shift: float
    target_scale: float
    season: int | None
    mase_scale: float


@dataclass(frozen=True)
class TextClassificationSpec(DataSpec):
    """Labelled texts (:class:`~seqmodels.data.text_classification.TextClassificationDataModule`).

    Attributes:
        vocab_size, padding_idx: the vocabulary's size and the id of ``<pad>``.
        num_classes: ``len(labels)``.
        vocab: the vocabulary, id -> token.
        labels: class id -> label as written in the training file.
        remove_html_breaks, max_length, keep: how texts are read (see
            :func:`seqmodels.preprocessing.tokenize` and :func:`~seqmodels.preprocessing.truncate`).
    """

    model_fields = ("vocab_size", "num_classes", "padding_idx")

    vocab_size: int
    num_classes: int
    padding_idx: int
    vocab: list[str]
    labels: list[str]
    remove_html_breaks: bool
    max_length: int | None
    keep: str


@dataclass(frozen=True)
class CharTextSpec(DataSpec):
    """A character stream (:class:`~seqmodels.data.char_text.CharTextDataModule`).

    Attributes:
        vocab_size: ``len(vocab)``.
        vocab: the vocabulary, id -> character.
    """

    model_fields = ("vocab_size",)

    vocab_size: int
    vocab: list[str]


@dataclass(frozen=True)
class PairsSpec(DataSpec):
    """Sequence pairs for seq2seq (:class:`~seqmodels.data.pairs.PairsDataModule`).

    Attributes:
        src_vocab_size, tgt_vocab_size: the vocabularies' sizes.
        pad_id, sos_id, eos_id: ids of ``<pad>``, ``<sos>`` and ``<eos>`` (the same in both).
        src_vocab, tgt_vocab: the vocabularies, id -> token.
        level: ``"char"`` or ``"word"``: how text is split into tokens.
    """

    model_fields = ("src_vocab_size", "tgt_vocab_size", "pad_id", "sos_id", "eos_id")

    src_vocab_size: int
    tgt_vocab_size: int
    pad_id: int
    sos_id: int
    eos_id: int
    src_vocab: list[str]
    tgt_vocab: list[str]
    level: str


class SequenceDataModule(L.LightningDataModule):
    """Base of the data modules: loads the data once and describes it with a :class:`DataSpec`.

    Subclasses implement :meth:`load` (read the data, split it, fit vocabularies and scalers on
    the training part, encode) and :meth:`spec` (the :class:`DataSpec` of the loaded data).
    :meth:`describe` loads the data if needed and returns the spec, at any time: before a Trainer
    exists, without relying on the order in which Lightning calls :meth:`setup` (which loads the
    data too, once).

    Example::

        >>> dm = SeriesDataModule(sine_wave(1000), seq_len=5)  # doctest: +SKIP
        >>> dm.describe().model_arguments()  # doctest: +SKIP
        {'input_size': 1, 'output_size': 1, 'seq_len': 5}
    """

    def __init__(self) -> None:
        super().__init__()
        self._loaded = False

    def load(self) -> None:
        """Read, split and encode the data; fit vocabularies and scalers on the training part."""
        raise NotImplementedError

    def spec(self) -> DataSpec:
        """The typed description of the loaded data."""
        raise NotImplementedError

    def describe(self) -> DataSpec:
        """What the model and the task need to know about the data (loads it on first call)."""
        self._load_once()
        return self.spec()

    def setup(self, stage: str | None = None) -> None:
        self._load_once()

    def _load_once(self) -> None:
        if not self._loaded:
            self.load()
            self._loaded = True
