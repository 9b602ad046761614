#!/usr/bin/env bash
# The GPU check in one command, e.g. on a lent device machine, whose $OUT folder comes back:
#   bash benchmarks/gpu_check.sh                         # about 4 minutes on an H100/H200
#   GPU_CHECK_ARGS=--compile bash benchmarks/gpu_check.sh  # plus the compiled run, about 8 minutes
# It needs the project's environment (.venv, or $PYTHON) with a CUDA build of torch; nothing is downloaded.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${PYTHON:-}" ]; then py=$PYTHON; elif [ -x .venv/bin/python ]; then py=.venv/bin/python; else py=python3; fi
"$py" -c '
import importlib.util, sys
missing = [m for m in ("torch", "torchvision", "pytorch_lightning", "hydra", "submitit") if importlib.util.find_spec(m) is None]
if missing:
    sys.exit(f"gpu_check: {sys.executable} lacks {missing}; set PYTHON to the project environment")
import torch
print(f"python {sys.version.split()[0]}, torch {torch.__version__}, CUDA {torch.version.cuda}, GPUs {torch.cuda.device_count()}")
'
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
# shellcheck disable=SC2086  # GPU_CHECK_ARGS holds several arguments on purpose
exec timeout 470 "$py" benchmarks/gpu_check.py --out "${OUT:-gpu_check_out}" ${GPU_CHECK_ARGS:-}
