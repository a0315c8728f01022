"""Test a checkpoint: ``python scripts/evaluate.py ckpt_path=PATH [key=value ...]``.

The data and task settings are those the checkpoint was trained with; ``experiment=NAME`` is
optional. See ``conf/eval.yaml`` and ``seqmodels.evaluate``.
"""

from seqmodels.evaluate import main

if __name__ == "__main__":
    main()
