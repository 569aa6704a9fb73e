"""Golden replay (issue 18, part 2): does this machine give the committed numbers bit for bit?

    python benchmarks/golden.py --check              # replay, compare with benchmarks/golden.json, exit 1 on mismatch
    python benchmarks/golden.py --update             # replay, rewrite benchmarks/golden.json
    python benchmarks/golden.py --results results/default   # one digest of a finished run's result tables

The replay runs the package's own entry points (`rlvr data`, `build-model`, `sft`, `rl`) in a temp dir on
the smoke experiment's tiny model, shortened, pinned with the config's `cpu_isa`. It hashes the final
weights (sha256 of each safetensors tensor, names sorted) and the metrics rows (canonical JSON, wall-clock
fields dropped) and prints the first difference: which file, tensor, step or metric.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "benchmarks" / "golden.json"
sys.path.insert(0, str(ROOT / "src"))

from rlvr_repro import config as cfg  # noqa: E402
from rlvr_repro.numerics import pin, settings  # noqa: E402

# The replay's shortening of the smoke experiment: a few SFT steps and two RL steps keep it ~1 minute.
SHORT = {
    "data": {"splits": {"sft": {"n": 64}, "rl": {"n": 32}, "test": {"n": 4}, "ood": {"n": 4}}},
    "sft": {"steps": 40, "save_steps": 40, "logging_steps": 10},
    "rl": {"steps": 2, "save_steps": 2, "prompts_per_step": 4, "prompts_per_update": 2},
}
SIZE, METHOD, SEED = "tiny", "grpo", 0


def is_wall_clock(key: str) -> bool:
    """Metrics fields that measure time, not numerics (step_time, time/*, *runtime, *per_second)."""
    k = key.lower()
    return k.startswith("time/") or "time" in k.split("/")[-1] or "per_second" in k or k == "timestamp"


def replay_config() -> dict:
    """config.yaml with smoke.yaml and SHORT merged on top."""
    smoke = yaml.safe_load((ROOT / "config/experiments/smoke.yaml").read_text())
    config = cfg.merge(cfg.merge(cfg.load(ROOT / "config/config.yaml"), smoke), SHORT)
    cfg.validate(config, source="smoke.yaml + golden.py SHORT")
    return config


def _cli(*args: str, env: dict) -> None:
    cmd = [sys.executable, "-m", "rlvr_repro.cli", *args]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"golden: `rlvr {args[0]}` failed ({done.returncode}):\n{done.stderr[-3000:]}")


def replay(work: Path) -> dict[str, Path]:
    """Run data -> build-model -> sft -> rl (GRPO) in `work`; return the artifacts to hash."""
    config = replay_config()
    env = {**os.environ, "RLVR_CPU_ISA": config["cpu_isa"], "PYTHONPATH": str(ROOT / "src")}
    ident = json.dumps({"exp": "golden", "size": SIZE})
    _cli("data", "--spec", json.dumps(config["data"]), "--seed", str(config.get("data_seed", 0)),
         "--out-dir", str(work / "data"), env=env)  # fmt: skip
    _cli(
        "build-model",
        "--size",
        SIZE,
        "--out",
        str(work / "init"),
        "--seed",
        str(config.get("data_seed", 0)),
        env=env,
    )
    _cli("sft", "--model", str(work / "init"), "--data", str(work / "data/sft.jsonl"), "--out", str(work / "sft"),
         "--work-dir", str(work / "sft_work"), "--metrics", str(work / "sft_metrics.jsonl"),
         "--spec", json.dumps(config["sft"]), "--identity", ident, "--seed", str(SEED), env=env)  # fmt: skip
    _cli("rl", "--model", str(work / "sft"), "--data", str(work / "data/rl.jsonl"), "--out", str(work / "rl"),
         "--work-dir", str(work / "rl_work"), "--metrics", str(work / "rl_metrics.jsonl"),
         "--spec", json.dumps(cfg.rl_spec(config, METHOD)), "--identity", ident, "--seed", str(SEED), env=env)  # fmt: skip
    return {"sft_weights": work / "sft", "sft_metrics": work / "sft_metrics.jsonl",
            "rl_weights": work / "rl", "rl_metrics": work / "rl_metrics.jsonl"}  # fmt: skip


def weight_hashes(model_dir: Path) -> dict[str, str]:
    """sha256 of every tensor's raw bytes (with dtype and shape), names sorted across safetensors shards."""
    from safetensors import safe_open

    out = {}
    for shard in sorted(model_dir.glob("*.safetensors")):
        with safe_open(str(shard), framework="pt") as f:
            for name in f.keys():  # noqa: SIM118 (safe_open has no __iter__)
                t = f.get_tensor(name).contiguous()
                h = hashlib.sha256(f"{t.dtype}{tuple(t.shape)}".encode())
                h.update(t.view(-1).view(dtype=__import__("torch").uint8).numpy().tobytes())
                out[name] = h.hexdigest()
    if not out:
        raise SystemExit(f"golden: no *.safetensors in {model_dir}")
    return dict(sorted(out.items()))


def metric_rows(path: Path) -> list[dict]:
    """Metrics rows without wall-clock fields, keys sorted."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [{k: v for k, v in sorted(r.items()) if not is_wall_clock(k)} for r in rows]


def canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=True)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def hashes(artifacts: dict[str, Path]) -> dict:
    """Per artifact: its overall digest and the per-tensor / per-row digests the first difference is read from."""
    out = {}
    for name, path in artifacts.items():
        parts = weight_hashes(path) if name.endswith("weights") else {
            f"row {i} (step {r.get('step', '?')})": sha(canonical(r)) for i, r in enumerate(metric_rows(path))}  # fmt: skip
        out[name] = {"digest": sha(canonical(parts)), "parts": parts}
        if name.endswith("metrics"):
            out[name]["rows"] = metric_rows(path)
    return out


def first_difference(golden: dict, now: dict) -> str | None:
    """The first artifact / tensor / metrics row (and field) that differs, or None."""
    for name, want in golden["artifacts"].items():
        got = now.get(name)
        if got is None:
            return f"{name}: missing from the replay"
        if got["digest"] == want["digest"]:
            continue
        for part in [*want["parts"], *(p for p in got["parts"] if p not in want["parts"])]:
            if want["parts"].get(part) != got["parts"].get(part):
                detail = ""
                if "rows" in want and part.startswith("row "):
                    i = int(part.split()[1])
                    a = want["rows"][i] if i < len(want["rows"]) else {}
                    b = got["rows"][i] if i < len(got["rows"]) else {}
                    diff = [k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
                    if diff:
                        detail = f": {diff[0]} golden {a.get(diff[0])!r} vs now {b.get(diff[0])!r}"
                return f"{name}: {'tensor ' if 'weights' in name else ''}{part} differs{detail}"
        return f"{name}: digest differs"
    return None


def run_replay() -> tuple[dict, float]:
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rlvr-golden-") as tmp:
        now = hashes(replay(Path(tmp)))
    return now, time.perf_counter() - t0


def table_digest(results: Path) -> tuple[str, int]:
    """sha256 over every result table (CSV under report/tables or tables/), rows canonicalised and sorted."""
    files = sorted({*results.glob("report/tables/*.csv"), *results.glob("tables/*.csv")})
    if not files:
        raise SystemExit(f"golden: no result tables (report/tables/*.csv, tables/*.csv) under {results}")
    h = hashlib.sha256()
    for path in files:
        with path.open(newline="") as f:
            rows = sorted(canonical(dict(sorted(r.items()))) for r in csv.DictReader(f))
        h.update(f"{path.relative_to(results)}\n".encode())
        h.update("\n".join(rows).encode())
    return h.hexdigest(), len(files)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--check", action="store_true", help="replay and compare with benchmarks/golden.json")
    g.add_argument("--update", action="store_true", help="replay and rewrite benchmarks/golden.json")
    g.add_argument("--results", type=Path, help="print one digest of a finished run's result tables")
    a = ap.parse_args(argv)
    if a.results:
        digest, n = table_digest(a.results)
        print(f"{digest}  {a.results} ({n} tables)")
        return 0
    os.environ["RLVR_CPU_ISA"] = replay_config()["cpu_isa"]
    numerics = {**pin(), **settings()}
    now, seconds = run_replay()
    if a.update:
        GOLDEN.write_text(
            json.dumps({"numerics": numerics, "artifacts": now}, indent=1, sort_keys=True) + "\n"
        )
        print(f"golden: wrote {GOLDEN.relative_to(ROOT)} in {seconds:.0f} s")
        return 0
    if not GOLDEN.exists():
        raise SystemExit(f"golden: {GOLDEN} missing; run `python benchmarks/golden.py --update`")
    golden = json.loads(GOLDEN.read_text())
    diff = first_difference(golden, now)
    if diff:
        print(f"golden: MISMATCH ({seconds:.0f} s): {diff}\n  golden recorded on {golden['numerics'].get('cpu_model')}"
              f" {golden['numerics'].get('RLVR_CPU_ISA')}; this machine {numerics.get('cpu_model')}"
              f" {numerics.get('RLVR_CPU_ISA')}")  # fmt: skip
        return 1
    print(f"golden: match ({seconds:.0f} s, {len(now)} artifacts)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
