#!/usr/bin/env bash
# The TensorBoard screenshots of docs/jobs/tensorboard.md, from real runs, in headless Chromium.
#   bash docs/tensorboard_screenshots.sh
# Needs chromium (Debian: apt-get install chromium), the docs extra's Pillow (from matplotlib) and
# the tinyshakespeare and tiny-sentiment data sets under $SEQMODELS_DATA_DIR. Runs three short
# jobs in a temporary directory, serves their logs with TensorBoard and writes
# docs/assets/tensorboard/*.png (128-colour PNGs).
set -euo pipefail
docs="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$docs")"
shots="$docs/assets/tensorboard"
work="$(mktemp -d)"
cd "$work"
export OMP_NUM_THREADS=1
python "$root/scripts/train.py" > sine.log
python "$root/scripts/train.py" experiment=tiny_sentiment > tiny_sentiment.log
python "$root/scripts/train.py" experiment=shakespeare trainer.max_epochs=2 task.scheduler.T_max=490 > shakespeare.log

tensorboard --logdir "$work/outputs" --port 6006 > tensorboard.log 2>&1 &
board=$!
trap 'kill $board' EXIT
sleep 10
shoot() {  # shoot NAME URL-FRAGMENT WIDTH,HEIGHT
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size="$3" \
    --virtual-time-budget=20000 --screenshot="$work/$1.png" "http://localhost:6006/$2" 2> /dev/null
}
shoot scalars '#scalars&regexInput=train%2F&tagFilter=val%2F(rmse%7Cpersistence_rmse%7Cmlp_rmse)%24' 1400,770
shoot images '#images&regexInput=train%2F&tagFilter=%5Eval%2Fforecast' 1400,470
shoot confusion '#images&regexInput=tiny_sentiment&tagFilter=%5Eval%2Fconfusion' 1400,600
shoot text '#text&regexInput=shakespeare' 1400,660
shoot hparams '#hparams' 1400,320

python - "$work" "$shots" <<'PY'
import glob
import io
import sys

from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

work, shots = sys.argv[1:]
for name in ("scalars", "images", "confusion", "text", "hparams"):
    image = Image.open(f"{work}/{name}.png").convert("RGB")
    image.quantize(colors=128).save(f"{shots}/{name}.png", optimize=True)
# the default job's last val/forecast figure at full size
for events in sorted(glob.glob(f"{work}/outputs/train/*/tensorboard/events*")):
    accumulator = EventAccumulator(events, size_guidance={"images": 0})
    accumulator.Reload()
    if "val/forecast" in accumulator.Tags()["images"]:
        figure = accumulator.Images("val/forecast")[-1].encoded_image_string
        image = Image.open(io.BytesIO(figure)).convert("RGB")
        image.quantize(colors=128).save(f"{shots}/forecast.png", optimize=True)
PY
