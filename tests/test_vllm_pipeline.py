"""The smoke DAG with vLLM on the CPU (config/experiments/smoke_vllm.yaml): RL rollouts through TRL's
colocated engine, evaluation through vllm_backend; jobs run this Python (.venv-vllm)."""

import csv
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.vllm,
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("vllm") is None, reason="vllm not installed (bash scripts/install.sh --vllm)"
    ),
]
ROOT = Path(__file__).resolve().parents[1]
# vLLM's log line when an engine starts, and its weight loader's progress bar (HF's says "Loading
# weights"): vLLM's INFO logging does not always reach the job's log, its loader's bar does
ENGINE_MARKS = ("Initializing a V1 LLM engine", "Loading safetensors checkpoint shards")


def test_smoke_vllm_dag_end_to_end():
    name = "pytest_smoke_vllm"
    out_dir = ROOT / "results" / name
    shutil.rmtree(out_dir, ignore_errors=True)
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", "config/experiments/smoke_vllm.yaml",
           "--config", f"name={name}"]  # fmt: skip
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=2400)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]

    assert (out_dir / "report/report.html").stat().st_size > 0
    evals = list(csv.DictReader((out_dir / "tables/eval.csv").open()))
    assert {"sft", "grpo", "filter_grpo", "sft_continue", "guide", "stack"} <= {r["method"] for r in evals}
    for method in ("grpo", "guide", "stack"):
        rows = [json.loads(line) for line in (out_dir / f"runs/tiny/{method}/seed0/metrics.jsonl").open()]
        assert [r["step"] for r in rows] == list(range(1, len(rows) + 1)) and len(rows) >= 2
        # rollouts: TRL's colocated engine runs in the job's process (use_vllm cannot fall back)
        assert "site-packages/vllm/" in (out_dir / f"logs/rl/tiny_{method}.log").read_text()
    eval_log = (out_dir / "logs/eval/tiny_grpo.log").read_text()
    assert any(mark in eval_log for mark in ENGINE_MARKS)  # evaluation went through vllm_backend
    provenance = json.loads((out_dir / "provenance.json").read_text())
    assert provenance["config"]["rl"]["use_vllm"] and provenance["config"]["eval"]["engine"] == "vllm"
