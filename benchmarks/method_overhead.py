"""Benchmark (not a test): per-step time of each method relative to GRPO, measured side by side.

Runs every RL method of the config for the same number of steps, one after the other, on the same
SFT model, data and seed, one thread each, nothing else running, and prints the mean optimizer-step
time (first step dropped: it warms caches) and its ratio to GRPO. Guide's re-sampling is reported
separately: its extra generation is the method, not overhead (the issue's target excludes it).
Dynamic sampling's cost is shown per step: generation rounds and completions generated (`refill/*`,
docs/METHODS.md §5); `filter_grpo` against the mask-only ablation `filter_grpo_mask` is the price of refill.

    python benchmarks/method_overhead.py --model results/default/models/tiny/sft \
        --data results/default/data/rl.jsonl --steps 8 --methods grpo filter_grpo_mask filter_grpo
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from rlvr_repro import config as cfg  # noqa: E402


def run(method: str, spec: dict, args, out: Path) -> list[dict]:
    work = out / method
    cmd = [sys.executable, "-m", "rlvr_repro.cli", "rl", "--model", args.model, "--data", args.data,
           "--out", str(work / "model"), "--work-dir", str(work / "work"), "--metrics", str(work / "m.jsonl"),
           "--spec", json.dumps(spec), "--seed", "0", "--threads", "1"]  # fmt: skip
    subprocess.run(
        cmd,
        check=True,
        capture_output=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    return [json.loads(line) for line in (work / "m.jsonl").read_text().splitlines()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(ROOT / "config/config.yaml"))
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--steps", type=int, default=8, help="rollout steps per method")
    ap.add_argument(
        "--methods", nargs="*", default=None, help="method or ablation blocks (default: methods:)"
    )
    args = ap.parse_args()
    config = yaml.safe_load(Path(args.config).read_text())
    methods = args.methods or [m for m in config["methods"] if not cfg.is_sft_method(config, m)]
    times = {}
    with tempfile.TemporaryDirectory() as tmp:
        for method in methods:
            spec = {**cfg.rl_spec(config, method), "steps": args.steps, "save_steps": 10**6}
            rows = run(method, spec, args, Path(tmp))[1:]
            times[method] = {key: statistics.mean(r[key] for r in rows) for key in
                             ("step_time", "time/generate", "time/score", "time/backward")}  # fmt: skip
            hinted = [r["guide/frac_hinted"] for r in rows if "guide/frac_hinted" in r]
            times[method]["frac_hinted"] = statistics.mean(hinted) if hinted else 0.0
            for key in ("refill/rounds", "refill/rollouts", "refill/frac_informative"):
                values = [r[key] for r in rows if key in r]
                times[method][key] = statistics.mean(values) if values else float("nan")
    grpo = times["grpo"]["step_time"]
    print("method            step_s  generate  score  backward  vs_grpo  backward_vs_grpo  share_hinted"
          "  rounds  rollouts  informative")  # fmt: skip
    for method, t in times.items():
        print(f"{method:16s} {t['step_time']:7.3f} {t['time/generate']:8.3f} {t['time/score']:6.3f} "
              f"{t['time/backward']:9.3f} {t['step_time'] / grpo:7.2f}x "
              f"{t['time/backward'] / times['grpo']['time/backward']:16.2f}x {t['frac_hinted']:12.2f}"
              f"  {t['refill/rounds']:6.2f}  {t['refill/rollouts']:8.1f}  {t['refill/frac_informative']:11.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
