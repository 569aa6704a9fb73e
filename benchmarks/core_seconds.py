"""Benchmark (not a test): where a finished experiment's core-seconds went.

    python benchmarks/core_seconds.py                 # results/default
    python benchmarks/core_seconds.py --exp smoke

Reads what the run left behind, nothing is re-run:
- Snakemake's `benchmark:` files (`results/<exp>/benchmarks/<rule>/*.tsv`): wall seconds and CPU
  seconds of every heavy job;
- each RL run's `metrics.jsonl`: per optimizer step, rollout generation, scoring and the rest
  (forward, backward, optimizer), as `StepTimer` measured them;
- the SFT runs' TRL `train_runtime`;
and measures one thing itself: how long a fresh Python takes to make the imports a job really makes
(`rlvr_repro.rl.train` for RL, which pulls in the trainer; TRL imports its modules lazily, so importing
only `torch, transformers, trl` measures half of it; the fixed cost every job pays before it works).

Prints a table of categories: imports and process start, SFT, rollout generation, forward and
backward, evaluation, analysis (the rules without a benchmark file: read from the job log times),
and the share in model compute (SFT + generation + forward/backward + evaluation).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The RL job's real import (cli.py imports rlvr_repro.rl.train lazily, which builds the trainer classes).
JOB_IMPORT = "import rlvr_repro.rl.train"
HEAVY = ("sft", "rl", "sft_continue", "evaluate", "task_properties")


def job_env() -> dict[str, str]:
    """This checkout's sources first on the path, as the workflow's jobs see them."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "src"), env.get("PYTHONPATH")) if p)
    return env


def import_seconds(repeats: int = 3) -> float:
    """Median wall time of a fresh process importing what an RL job imports (`rlvr_repro.rl.train`)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", JOB_IMPORT], check=True, env=job_env())
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def bench_rows(exp: Path) -> dict[str, list[dict]]:
    """rule -> benchmark rows (s = wall seconds, cpu_time = CPU seconds) of its jobs."""
    out: dict[str, list[dict]] = {}
    for rule in HEAVY:
        for path in sorted((exp / "benchmarks" / rule).glob("*.tsv")):
            with path.open() as f:
                out.setdefault(rule, []).extend(csv.DictReader(f, delimiter="\t"))
    return out


def rl_split(exp: Path) -> dict[str, float]:
    """Seconds of generation, scoring and forward/backward summed over every RL run's steps."""
    total = {"generate": 0.0, "score": 0.0, "backward": 0.0}
    for path in (exp / "runs").glob("*/*/seed*/metrics.jsonl"):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            for key in total:
                total[key] += row.get(f"time/{key}", 0.0)
    return total


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--exp", default="default", help="experiment name (results/<exp>)")
    args = ap.parse_args(argv)
    exp = ROOT / "results" / args.exp
    rows = bench_rows(exp)
    if not rows:
        raise SystemExit(f"{exp}/benchmarks: no benchmark files; run the experiment first")
    wall = {rule: sum(float(r["s"]) for r in rs) for rule, rs in rows.items()}
    jobs = {rule: len(rs) for rule, rs in rows.items()}
    imp = import_seconds()
    n_jobs = sum(jobs.values())
    split = rl_split(exp)
    rl_steps = sum(split.values())
    rl_wall = wall.get("rl", 0.0)
    cats = {
        "imports and process start": imp * n_jobs,
        "SFT (warm start + SFT-continue)": wall.get("sft", 0.0)
        + wall.get("sft_continue", 0.0)
        - imp * (jobs.get("sft", 0) + jobs.get("sft_continue", 0)),
        "rollout generation (RL)": split["generate"],
        "reward scoring (RL)": split["score"],
        "forward and backward (RL)": split["backward"],
        "RL job outside its steps (model load, checkpoints, saving)": max(
            0.0, rl_wall - rl_steps - imp * jobs.get("rl", 0)
        ),
        "evaluation + task properties": wall.get("evaluate", 0.0)
        + wall.get("task_properties", 0.0)
        - imp * (jobs.get("evaluate", 0) + jobs.get("task_properties", 0)),
    }
    total = sum(cats.values())
    compute = sum(v for k, v in cats.items() if k.startswith(("SFT", "rollout", "forward", "evaluation")))
    print(f"{exp}: {n_jobs} heavy jobs; one job import ({JOB_IMPORT}) takes {imp:.1f} s here")
    print(f"{'category':62s} {'core-s':>8s} {'share':>7s}")
    for name, value in cats.items():
        print(f"{name:62s} {value:8.0f} {value / total:7.1%}")
    print(f"{'total (heavy jobs)':62s} {total:8.0f}")
    print(f"model compute (SFT, generation, forward/backward, evaluation): {compute / total:.1%}")
    cpu = sum(float(r.get("cpu_time", 0) or 0) for rs in rows.values() for r in rs)
    print(f"CPU seconds Snakemake measured over the same jobs: {cpu:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
