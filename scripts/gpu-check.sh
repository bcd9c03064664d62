#!/usr/bin/env bash
# One prepared check for a GPU machine (no internet): SFT and GRPO for a fixed number of steps on a small
# random Qwen2 model in bf16, printing tokens/s and model FLOPs utilization (xcoder_assets/launched/gpu_check.py).
#
# The machine needs python3 with torch, transformers, accelerate, peft, safetensors, tokenizers. What it lacks
# (TRL, datasets, dill, multiprocess, dagster-pipes) comes as wheels in a folder carried with the tree:
#   bash scripts/gpu-check.sh --fetch-wheels     # here, with a package index: writes wheels/ (about 2 MB)
#   bash scripts/gpu-check.sh [--sft-steps N] [--rl-steps N] [--size tiny|small]    # there
# Environment: PYTHON (default python3), WHEELS (default wheels), PY_VERSION for --fetch-wheels (default 3.12).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
WHEELS=${WHEELS:-wheels}

if [[ "${1:-}" == "--fetch-wheels" ]]; then
    mkdir -p "$WHEELS"
    # pure-Python wheels, and multiprocess built for the GPU machine's Python
    "$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version "${PY_VERSION:-3.12}" -d "$WHEELS" \
        trl==1.16.0 datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 dagster-pipes==1.13.27
    ls -l "$WHEELS"
    exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ! "$PY" -c "import trl, datasets, dagster_pipes" 2>/dev/null; then
    ls "$WHEELS"/*.whl >/dev/null 2>&1 || { echo "gpu-check: $PY lacks trl/datasets/dagster-pipes and $WHEELS/ holds no wheels (run --fetch-wheels where an index is reachable)" >&2; exit 2; }
    # a venv over the system's packages (torch, transformers stay the machine's own), the carried wheels on top
    "$PY" -m venv --system-site-packages "$work/venv"
    PY="$work/venv/bin/python"
    "$PY" -m pip install --quiet --no-deps --no-index "$WHEELS"/*.whl
fi
"$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print('cuda', torch.version.cuda, torch.cuda.get_device_name(0))" \
    || echo "gpu-check: no CUDA device: the figures below are CPU figures" >&2
PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" "$PY" -m xcoder_assets.launched.gpu_check --work "$work" "$@"
