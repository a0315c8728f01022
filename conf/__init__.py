"""The Hydra configs of ``seqmodels.train`` and ``seqmodels.evaluate``, installed as the package
``seqmodels.conf`` (see ``pyproject.toml``) so that a regular install ships them too."""
