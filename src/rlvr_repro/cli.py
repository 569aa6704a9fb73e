"""`rlvr <command>`: the entry points the Snakemake rules call (rules hold no logic beyond wiring)."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

from .numerics import pin

# Commands whose module parses its own arguments, with their one-line help.
DELEGATED_HELP = {
    "aggregate": "concatenate per-run metrics and evaluation CSVs into tidy tables",
    "figures": "training curves, pass@k, accuracy by difficulty, pass@k decomposition (PNG + PDF)",
    "tables": "method x size tables, head-to-head, paired differences (CSV, Markdown, LaTeX)",
    "report": "the regenerated paper with the claims table (HTML) and claims.csv",
    "claims": "evaluate the claims registry against the aggregated tables",
    "gpus": "run a command on its own GPUs (file locks, CUDA_VISIBLE_DEVICES)",
}
DELEGATED = {
    "aggregate": "aggregate",
    "figures": "figures",
    "tables": "tables",
    "report": "report",
    "claims": "claims",
    "gpus": "gpus",
}


def _json(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"not valid JSON ({e}): {text[:80]}") from e


def _split(text: str) -> tuple[str, Path]:
    name, sep, path = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH, got {text!r}")
    return name, Path(path)


def _train_args(p: argparse.ArgumentParser, spec_help: str) -> None:
    p.add_argument("--model", required=True, help="model directory or hub id")
    p.add_argument("--data", required=True, type=Path, help="training records, JSONL (`rlvr data` output)")
    p.add_argument("--out", type=Path, help="final model directory (one run; or use --run)")
    p.add_argument("--work-dir", type=Path, help="checkpoints and TensorBoard logs (one run)")
    p.add_argument("--metrics", type=Path, help="per-step metrics JSONL (one run)")
    p.add_argument("--run", action="append", nargs=4, metavar=("OUT", "WORK_DIR", "METRICS", "SEED"),
                   help="one training run (final model dir, checkpoint dir, metrics JSONL, seed); repeatable: "
                   "one process trains the runs one after another, paying the imports once")  # fmt: skip
    p.add_argument("--spec", required=True, type=_json, help=spec_help)
    p.add_argument("--identity", default="{}", type=_json, help=IDENTITY_HELP)
    p.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    p.add_argument("--threads", type=int, default=1, help=THREADS_HELP)


IDENTITY_HELP = 'JSON {"exp", "size", "method", "seed"} copied into every metrics row (default {})'
THREADS_HELP = "torch CPU threads (default 1)"


def version() -> str:
    """Package version, and the git commit of the checkout it runs from when there is one."""
    import subprocess

    from . import __version__

    root = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(["git", "-C", str(root), "describe", "--always", "--dirty", "--abbrev=12"],
                             capture_output=True, text=True, timeout=10, check=False)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return f"rlvr-repro {__version__}"
    commit = out.stdout.strip() if out.returncode == 0 else ""
    return f"rlvr-repro {__version__}" + (f" (git {commit})" if commit else "")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="rlvr",
        description=__doc__,
        epilog="`rlvr <command> -h` describes each command; config keys: config/README.md.",
    )
    ap.add_argument("--version", action="version", version=version(), help="print version and git commit")
    sub = ap.add_subparsers(dest="command", required=True, metavar="<command>")

    p = sub.add_parser(
        "data", help="write the data splits: synthetic tasks or hub/local data sets (data.source)"
    )
    p.add_argument("--spec", required=True, type=_json, help="JSON of the config's `data:` block")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic tasks (config `data_seed`)")
    p.add_argument("--out-dir", required=True, type=Path, help="folder for <split>.jsonl")

    p = sub.add_parser(
        "build-model", help="create a tiny model + tokenizer, or fetch a configured base model"
    )
    p.add_argument(
        "--size", required=True, help="size name: a tiny size of models.py, or any name with --source"
    )
    p.add_argument(
        "--source", default="", help="hub id (id@revision) or local model dir; empty: build the tiny size"
    )
    p.add_argument(
        "--template", default="plain", help="prompt template: its end-of-turn tokens stop generation"
    )
    p.add_argument("--out", required=True, type=Path, help="model directory to write")
    p.add_argument("--seed", type=int, default=0, help="initialisation seed of a built tiny model")

    _train_args(
        sub.add_parser("sft", help="SFT warm start / SFT-continue control (TRL SFTTrainer)"),
        "JSON of the config's `sft:` block (steps, batch_size, learning_rate, ...; config.sft_continue_spec "
        "for the control)",
    )
    _train_args(
        sub.add_parser("rl", help="one RL run through RLVRTrainer (TRL GRPOTrainer)"),
        "JSON of one method's RL spec: `rl:` with the method block merged on top (config.rl_spec)",
    )

    p = sub.add_parser("eval", help="sample, grade, write tidy metrics and per-problem CSVs")
    p.add_argument("--run", required=True, action="append", nargs=4, metavar=("MODEL", "SEED", "OUT_CSV", "OUT_PROBLEMS"),
                   help="one model to evaluate with its sampling seed and outputs; repeatable (one process, many runs)")  # fmt: skip
    p.add_argument("--split", required=True, action="append", type=_split,
                   help="NAME=PATH of a JSONL split to evaluate, repeatable")  # fmt: skip
    p.add_argument(
        "--spec",
        required=True,
        type=_json,
        help="JSON of the `eval:` block for this method (config.eval_spec)",
    )
    p.add_argument(
        "--identity", default="{}", type=_json, help="JSON exp/size/method; the seed comes from --run"
    )
    p.add_argument("--threads", type=int, default=1, help=THREADS_HELP)

    p = sub.add_parser(
        "task-properties", help="measure the task-design properties on the SFT start (and the GRPO model)"
    )
    p.add_argument("--model", required=True, action="append", type=_split,
                   help="LABEL=DIR of a model to measure, repeatable; the first is the SFT start whose "
                   "properties are checked against their targets")  # fmt: skip
    p.add_argument(
        "--grpo-metrics",
        nargs="*",
        default=[],
        type=Path,
        help="metrics.jsonl of the GRPO runs: rollout accuracy and entropy, first vs last fifth",
    )
    p.add_argument("--data", required=True, type=Path, help="RL prompts, JSONL")
    p.add_argument("--spec", required=True, type=_json, help="JSON of the config's `task_properties:` block")
    p.add_argument("--seed", type=int, default=0, help="sampling seed")
    p.add_argument("--threads", type=int, default=1, help=THREADS_HELP)
    p.add_argument("--out", required=True, type=Path, help="JSON file to write")

    p = sub.add_parser("provenance", help="versions, git commit, config and hardware beside the results")
    p.add_argument("--config", required=True, type=_json, help="JSON of the whole merged experiment config")
    p.add_argument("--out", required=True, type=Path, help="provenance.json to write")

    for name in DELEGATED:
        sub.add_parser(name, help=DELEGATED_HELP.get(name, f"see `rlvr {name} -h`"), add_help=False)
    return ap


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    pin()  # before torch is imported: the kernel choice is read when torch first dispatches
    if argv and argv[0] in DELEGATED:
        return importlib.import_module(f"rlvr_repro.{DELEGATED[argv[0]]}").main(argv[1:]) or 0
    args = parser().parse_args(argv)
    return COMMANDS[args.command](args) or 0


def cmd_data(a):
    from .jsonl import read_jsonl

    if a.spec.get("source", "synthetic") == "hub":
        from .loaders import write_hub_splits

        for split, path in write_hub_splits(a.spec, a.out_dir).items():
            rows = read_jsonl(path)
            with_hint = sum(bool(r["hint"]) for r in rows)
            print(split, path, json.dumps({"n": len(rows), "with_hint": with_hint}))
        return
    from .tasks import task_stats, write_splits

    for split, path in write_splits(a.spec, a.seed, a.out_dir).items():
        print(split, path, json.dumps(task_stats(read_jsonl(path))))


def cmd_build_model(a):
    if a.source:
        from .loaders import TEMPLATE_END_TOKENS
        from .models import fetch_model

        print(f"{a.size}: {a.source} -> {fetch_model(a.source, a.out, TEMPLATE_END_TOKENS[a.template])}")
        return
    from .models import build_model

    print(f"{a.size}: {build_model(a.size, a.out, a.seed):,} parameters -> {a.out}")


def cmd_sft(a):
    from .sft import train_sft

    for out, work, metrics, seed in _runs(a):
        train_sft(a.model, a.data, out, a.spec, seed, a.threads, work, metrics, {**a.identity, "seed": seed})


def _runs(a) -> list[tuple[Path, Path, Path, int]]:
    """(out, work_dir, metrics, seed) of every run: the repeated --run, or the single-run flags."""
    if a.run:
        return [(Path(o), Path(w), Path(m), int(s)) for o, w, m, s in a.run]
    missing = [f"--{k.replace('_', '-')}" for k in ("out", "work_dir", "metrics") if getattr(a, k) is None]
    if missing:
        raise SystemExit(f"rlvr {a.command}: give --run OUT WORK_DIR METRICS SEED, or {' '.join(missing)}")
    return [(a.out, a.work_dir, a.metrics, a.seed)]


def cmd_rl(a):
    from .rl.train import train_rl

    for out, work, metrics, seed in _runs(a):
        train_rl(a.model, a.data, out, a.spec, seed, a.threads, work, metrics, {**a.identity, "seed": seed})


def cmd_eval(a):
    from .evaluate import EVAL_COLUMNS, PROBLEM_COLUMNS, evaluate, write_csv
    from .runs import set_threads

    set_threads(a.threads)
    for model, seed, out_csv, out_problems in a.run:
        samples = Path(out_csv).with_name("samples.jsonl")  # graded completions beside the run's eval.csv
        metrics, problems = evaluate(model, dict(a.split), a.spec, int(seed), a.identity, samples)
        write_csv(Path(out_csv), metrics, EVAL_COLUMNS)
        write_csv(Path(out_problems), problems, PROBLEM_COLUMNS)
        for row in metrics:
            if row["metric"] in ("avg@n", "greedy_acc"):
                print(model, f"seed {seed}", row["split"], row["metric"], f"{row['value']:.3f}")


def cmd_task_properties(a):
    from .properties import task_properties
    from .runs import set_threads, write_json

    set_threads(a.threads)
    props = task_properties(dict(a.model), a.data, a.spec, a.seed, a.grpo_metrics)
    write_json(a.out, props)
    print(json.dumps(props, indent=2))


def cmd_provenance(a):
    from .runs import provenance, write_json

    write_json(a.out, provenance(a.config))


COMMANDS = {
    "data": cmd_data,
    "build-model": cmd_build_model,
    "sft": cmd_sft,
    "rl": cmd_rl,
    "eval": cmd_eval,
    "task-properties": cmd_task_properties,
    "provenance": cmd_provenance,
}


if __name__ == "__main__":
    raise SystemExit(main())
