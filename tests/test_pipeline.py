"""The whole Snakemake DAG on the smoke experiment (the integration test, a few minutes)."""

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rlvr_repro import stats

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [
    sys.executable,
    "-m",
    "snakemake",
    "--cores",
    "2",
    "--configfile",
    "config/experiments/smoke.yaml",
]


def snakemake(*args, check=True):
    return subprocess.run([*SNAKEMAKE, *args], cwd=ROOT, capture_output=True, text=True, check=check)


def test_bad_config_stops_before_any_job_naming_the_key():
    out = snakemake("-n", "--config", "name=pytest_bad", "seeds=[0]", "threads=0", check=False)
    assert out.returncode != 0
    assert "threads" in out.stderr + out.stdout
    assert not (ROOT / "results/pytest_bad").exists()


def test_default_dag_plans_and_lints():
    out = subprocess.run(  # --forceall: the whole DAG even where results/default is already complete
        [sys.executable, "-m", "snakemake", "-n", "--forceall"], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "rl" in out.stdout and "report" in out.stdout
    lint = subprocess.run(
        [sys.executable, "-m", "snakemake", "--lint"], cwd=ROOT, capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stdout[-2000:]


@pytest.mark.slow
def test_smoke_dag_end_to_end():
    name = "pytest_smoke"
    out_dir = ROOT / "results" / name
    shutil.rmtree(out_dir, ignore_errors=True)
    run = snakemake("--config", f"name={name}", check=False)
    assert run.returncode == 0, run.stderr[-4000:]

    report = (out_dir / "report/report.html").read_text()
    assert "<img" in report and 'src="http' not in report
    claims = list(csv.DictReader((out_dir / "report/claims.csv").open()))
    assert {row["verdict"] for row in claims} <= set(stats.VERDICTS)  # incl. "not measured" (pass@16 at n=4)
    evals = list(csv.DictReader((out_dir / "tables/eval.csv").open()))
    methods = {row["method"] for row in evals}
    assert {"sft", "grpo", "filter_grpo", "sft_continue"} <= methods
    assert all(0.0 <= float(row["value"]) for row in evals if row["metric"] in ("avg@n", "greedy_acc"))
    rows = [json.loads(line) for line in (out_dir / "runs/tiny/grpo/seed0/metrics.jsonl").open()]
    assert [r["step"] for r in rows] == list(range(1, len(rows) + 1))
    assert {
        "reward",
        "accuracy",
        "entropy",
        "clip_frac",
        "completion_length",
        "frac_zero_std",
        "step_time",
    } <= set(rows[0])
    provenance = json.loads((out_dir / "provenance.json").read_text())
    assert provenance["versions"]["trl"] == "1.16.0"
    for figure in ("train_accuracy", "train_entropy", "passk", "acc_by_difficulty", "passk_decomposition"):
        assert (out_dir / f"figures/{figure}.png").stat().st_size > 0
        assert (out_dir / f"figures/{figure}.pdf").stat().st_size > 0

    # A finished DAG is not recomputed, and nothing is deleted.
    again = snakemake("--config", f"name={name}", "-n")
    assert "Nothing to be done" in again.stdout + again.stderr
