"""Train a model: ``python scripts/train.py [experiment=NAME] [key=value ...]``.

With no arguments it runs the ``sine`` job on CPU. See ``conf/train.yaml`` and ``seqmodels.train``.
"""

from seqmodels.train import main

if __name__ == "__main__":
    main()
