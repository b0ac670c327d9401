#!/bin/bash
# The GPU checks on a CUDA machine, offline: the default `make train` timed on the GPU, then the
# GPU inference paths of `make bench` on 50,000 clauses of the dataset. Everything it measured
# (log, train_summary.json, bench.json) goes to OUT, with a half-precision copy of the model.
#
#   python scripts/gpu_bundle.py BUNDLE          # on a machine with the repo set up
#   bash scripts/gpu_check.sh BUNDLE OUT         # in a checkout on the GPU machine
#
# It uses the machine's python3 (PyTorch with CUDA, transformers, accelerate, scikit-learn) and
# installs the bundle's wheels into a private folder; it builds no virtual environment.
# TRAIN_ARGS adds config overrides; TRAIN_TIMEOUT / BENCH_TIMEOUT bound the two steps (seconds).
set -u
BUNDLE=$(cd "${1:?usage: gpu_check.sh BUNDLE OUT}" && pwd)
OUT=$(mkdir -p "${2:?usage: gpu_check.sh BUNDLE OUT}" && cd "$2" && pwd)
cd "$(dirname "$0")/.."
exec > >(tee -a "$OUT/log.txt") 2>&1
T0=$(date +%s)
stamp() { echo "=== $(date -u +%T) +$(( $(date +%s) - T0 ))s $*"; }
stamp start
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || exit 1
SITE=$(mktemp -d)
if [ -d "$BUNDLE/wheels" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$SITE" "$BUNDLE"/wheels/*.whl || exit 1
fi
export PYTHONPATH="$SITE:$PWD" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
python3 -c "import torch, transformers, datasets; print('torch', torch.__version__, 'transformers', transformers.__version__, 'datasets', datasets.__version__, 'cuda', torch.cuda.is_available())" || exit 1

stamp "base model to fp32, dataset from JSONL"
WORK=$(mktemp -d)
python3 - "$BUNDLE" "$WORK" <<'PY' || exit 1
import json, lzma, random, shutil, sys
from pathlib import Path
from datasets import Dataset, DatasetDict
sys.path.insert(0, "scripts")
from gpu_bundle import SPLITS, cast_float_weights
bundle, work = Path(sys.argv[1]), Path(sys.argv[2])
shutil.copytree(bundle / "base", work / "base", ignore=shutil.ignore_patterns("*.safetensors"))
cast_float_weights(bundle / "base" / "model.fp16.safetensors", work / "base" / "model.safetensors", "float32")
rows = {}
for split in SPLITS:
    with lzma.open(bundle / "data" / f"{split}.jsonl.xz", "rt", encoding="utf-8") as f:
        rows[split] = [json.loads(line) for line in f]
DatasetDict({k: Dataset.from_list(v) for k, v in rows.items()}).save_to_disk(str(work / "data" / "dataset"))
shutil.copy2(bundle / "data" / "stats.json", work / "data" / "stats.json")
texts = [r["text"] for split in rows.values() for r in split]
random.Random(7).shuffle(texts)
(work / "clauses.json").write_text(json.dumps(texts[:50000]))
print({k: len(v) for k, v in rows.items()})
PY
# `make` runs $(VENV)/bin/python: point it at this machine's python3.
mkdir -p "$WORK/venv/bin"
printf '#!/bin/sh\nexec "%s" "$@"\n' "$(command -v python3)" > "$WORK/venv/bin/python"
chmod +x "$WORK/venv/bin/python" && touch "$WORK/venv/.installed"

RUN=gpu
stamp "make train (default config)"
timeout "${TRAIN_TIMEOUT:-0}" make train VENV="$WORK/venv" ARGS="model.model_name_or_path=$WORK/base data.dataset_dir=$WORK/data training.report_to=none training.run_name=$RUN ${TRAIN_ARGS:-}"
echo "make train: exit $?"
stamp "trained"
MODEL=outputs/$RUN/model
[ -f "$MODEL/model.safetensors" ] || exit 1
cp outputs/$RUN/train_summary.json "$OUT/"
python3 - "$MODEL" "$OUT" <<'PY'
import sys
from pathlib import Path
sys.path.insert(0, "scripts")
from gpu_bundle import cast_float_weights
cast_float_weights(Path(sys.argv[1], "model.safetensors"), Path(sys.argv[2], "model-fp16.safetensors"), "float16")
PY
tar czf "$OUT/model-files.tgz" -C "outputs/$RUN" --exclude=model.safetensors model config.yaml

stamp "bench: GPU paths"
mkdir -p "outputs/$RUN/export" && ln -sfn ../model "outputs/$RUN/export/hf"
timeout "${BENCH_TIMEOUT:-0}" python3 scripts/bench.py --model "$MODEL" --data "$WORK/data" --skip-ota --skip-diff \
  --paths torch_bf16_gpu,torch_fp32_gpu,pipeline_b32_gpu --clauses "$WORK/clauses.json" --output "$WORK/bench"
echo "bench: exit $?"
cp "$WORK/bench/bench.json" "$OUT/" 2>/dev/null
stamp end
