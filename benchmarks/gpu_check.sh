#!/usr/bin/env bash
# Goal 5 of issue 14: the brief profile of Tasks 3-6 on one CUDA GPU, then seconds and accuracies per task.
#
#   benchmarks/gpu_check.sh [OUT_DIR]          # default OUT_DIR: a fresh temporary folder
#   PYTHON=.venv/bin/python benchmarks/gpu_check.sh
#
# Target: Tasks 3-6 in at most 2 minutes on an H100-class GPU. Needs the data sets already in place
# (MNISTLAB_NO_DOWNLOAD is honoured) and a CUDA build of torch; it stops with one line if there is no GPU.
# Nothing in CI runs this.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python
OUT="${1:-$(mktemp -d -t mnistlab-gpu-XXXXXX)}"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"

"$PYTHON" - <<'PY'
import sys, torch
if not torch.cuda.is_available():
    sys.exit(f"gpu_check: no CUDA GPU visible to torch {torch.__version__}; nothing to check")
print(f"gpu_check: {torch.cuda.get_device_name(0)}, torch {torch.__version__}, CUDA {torch.version.cuda}, "
      f"bf16 {'yes' if torch.cuda.is_bf16_supported() else 'no'}")
PY

command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,utilization.gpu --format=csv,noheader || true
start=$(date +%s.%N)
"$PYTHON" -m mnistlab run task3 task4 task5 task6 --profile brief --device cuda --out "$OUT" --no-progress --force
end=$(date +%s.%N)

"$PYTHON" - "$OUT" "$start" "$end" <<'PY'
import json, sys
from pathlib import Path

out, start, end = Path(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
total = 0.0
print(f"\n{'task':<7}{'seconds':>9}  {'device':<28} key accuracies")
for task in ("task3", "task4", "task5", "task6"):
    path = out / task / "result.json"
    if not path.exists():
        print(f"{task:<7}{'-':>9}  no result.json (the run failed: see above)")
        continue
    record = json.loads(path.read_text())
    seconds = float(record.get("seconds", 0.0))
    total += seconds
    env = record.get("environment", {})
    device = env.get("gpu", env.get("device", "?"))
    accs = {k: v for k, v in record.get("metrics", {}).items()
            if isinstance(v, (int, float)) and "acc" in k and not k.endswith(("_std", "_ci95"))}
    shown = ", ".join(f"{k} {v:.2%}" if v <= 1 else f"{k} {v:.2f}" for k, v in sorted(accs.items())[:8])
    print(f"{task:<7}{seconds:>9.1f}  {device[:28]:<28} {shown}")
print(f"\ntraining + analysis, summed over the tasks: {total:.1f} s; wall clock of the whole run: "
      f"{end - start:.1f} s (goal: at most 120 s on an H100-class GPU); results in {out}")
PY
