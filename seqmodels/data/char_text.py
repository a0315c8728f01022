"""Deprecated: moved to :mod:`seqmodels.tasks.language_model.data`.

Its names still work from here for one release, each with a DeprecationWarning.
"""

from seqmodels.tasks._names import alias_module

__getattr__ = alias_module(__name__, "seqmodels.tasks.language_model.data")
