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

from seqmodels.tasks._names import moved_names

__all__ = ["DataSpec", "SequenceDataModule"]

# each task's spec lives beside its data module, in seqmodels/tasks/<task>/data.py
__getattr__ = moved_names(
    __name__,
    {
        "CharTextSpec": "seqmodels.tasks.language_model.data",
        "PairsSpec": "seqmodels.tasks.seq2seq.data",
        "SeriesSpec": "seqmodels.tasks.regression.data",
        "TextClassificationSpec": "seqmodels.tasks.classification.data",
    },
)


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
