"""Test a checkpoint: ``python scripts/evaluate.py experiment=NAME ckpt_path=PATH``.

See ``conf/eval.yaml`` and ``seqmodels.evaluate``.
"""

from seqmodels.evaluate import main

if __name__ == "__main__":
    main()
