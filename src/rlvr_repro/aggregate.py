"""Concatenate per-run outputs into three tidy tables, and read them back.

CLI::

    rlvr aggregate --metrics R1/metrics.jsonl ... --eval R1/eval.csv ... --problems R1/problems.csv ...
                   --out-dir D

writes ``D/curves.csv`` (every metrics.jsonl row), ``D/eval.csv`` and ``D/problems.csv``. A missing or
malformed input stops with an error naming the file (and the line, for JSONL).

The helpers below (``read_tables``, ``method_order``, ``size_order``, ``difficulty_order``,
``eval_seed_values``, ``curve_seed_values``, ...) are shared by tables, figures and report.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .jsonl import DataError, read_jsonl

RUN_KEYS = ["exp", "size", "method", "seed"]
CURVE_REQUIRED = [*RUN_KEYS, "step"]
EVAL_COLUMNS = [*RUN_KEYS, "split", "metric", "k", "difficulty", "value", "n", "temperature"]
PROBLEM_COLUMNS = [*RUN_KEYS, "split", "problem_id", "difficulty", "n", "c", "greedy_correct", "mean_length"]
CURVE_FIRST = [
    *CURVE_REQUIRED,
    "reward",
    "accuracy",
    "entropy",
    "clip_frac",
    "completion_length",
    "frac_zero_std",
    "step_time",
    "loss",
]

# Display order; methods not listed follow alphabetically (the set of methods is open).
METHOD_ORDER = [
    "sft",
    "sft_continue",
    "grpo",
    "filter_grpo",
    "dapo",
    "dr_grpo",
    "adora",
    "guide",
    "etr",
    "stack",
    "adora_length",
    "adora_both",
    "guide_noshape",
    "guide_noplain",
    "etr_micro",
    "etr_macro",
]
LEVEL_PREFIX = "accuracy/level_"  # rollout accuracy per difficulty level (rl/trainer.py)
LEVEL_COLUMN = "accuracy_standardised"
LEVEL_WINDOW = 8  # logged rollout steps per level average: a fifth of the default run's 40
SIZE_ORDER = ["tiny", "small", "base", "medium", "large"]
DIFFICULTY_WORDS = ["easy", "medium", "hard", "harder", "hardest"]
REFERENCE_METHOD = "grpo"
START_METHOD = "sft"


class AggregateError(ValueError):
    """An input file is missing or malformed; the message names it."""


# --------------------------------------------------------------------------------------------------
# reading run outputs
# --------------------------------------------------------------------------------------------------
def read_metrics_jsonl(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise AggregateError(f"{path}: metrics file not found")
    try:
        rows = read_jsonl(path, required=tuple(CURVE_REQUIRED))
    except DataError as exc:
        raise AggregateError(str(exc)) from None
    df = pd.DataFrame(rows)
    if df.empty:
        return pd.DataFrame(columns=CURVE_REQUIRED)
    try:
        df["seed"] = df["seed"].astype(int)
        df["step"] = df["step"].astype(int)
    except (TypeError, ValueError) as exc:
        raise AggregateError(f"{path}: 'seed' and 'step' must be integers ({exc})") from None
    return df


def read_csv_checked(path: str | Path, required: Sequence[str], what: str) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise AggregateError(f"{path}: {what} file not found")
    try:
        df = pd.read_csv(path, dtype={"difficulty": str, "problem_id": str, "size": str, "method": str})
    except pd.errors.EmptyDataError:
        raise AggregateError(f"{path}: empty file (expected a header with {', '.join(required)})") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise AggregateError(f"{path}: cannot parse CSV ({exc})") from None
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise AggregateError(f"{path}: missing column(s) {', '.join(missing)}")
    try:
        df["seed"] = df["seed"].astype(int)
    except (TypeError, ValueError) as exc:
        raise AggregateError(f"{path}: column 'seed' must hold integers ({exc})") from None
    return df


def _concat(frames: list[pd.DataFrame], first: Sequence[str]) -> pd.DataFrame:
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=list(first))
    df = pd.concat(frames, ignore_index=True, sort=False)
    cols = [c for c in first if c in df.columns] + [c for c in df.columns if c not in first]
    return df[cols]


def _dedup(df: pd.DataFrame, keys: Sequence[str], what: str) -> pd.DataFrame:
    keys = [k for k in keys if k in df.columns]
    dup = df.duplicated(subset=keys, keep="last")
    if dup.any():
        print(
            f"[aggregate] warning: {int(dup.sum())} duplicate {what} row(s) on {keys}; kept the last",
            file=sys.stderr,
        )
        df = df[~dup].reset_index(drop=True)
    return df


def aggregate(
    metrics: Iterable[str | Path], evals: Iterable[str | Path], problems: Iterable[str | Path], out_dir
) -> list[Path]:
    out_dir = Path(out_dir)
    curves = _concat([read_metrics_jsonl(p) for p in metrics], CURVE_FIRST)
    curves = _dedup(curves, CURVE_REQUIRED, "metrics")
    curves[LEVEL_COLUMN] = level_standardised(curves)
    ev = _concat([read_csv_checked(p, EVAL_COLUMNS, "eval") for p in evals], EVAL_COLUMNS)
    ev = _dedup(ev, [*RUN_KEYS, "split", "metric", "k", "difficulty"], "eval")
    if "k" in ev.columns and len(ev):
        ev["k"] = pd.to_numeric(ev["k"], errors="coerce").astype("Int64")
    pr = _concat([read_csv_checked(p, PROBLEM_COLUMNS, "problems") for p in problems], PROBLEM_COLUMNS)
    pr = _dedup(pr, [*RUN_KEYS, "split", "problem_id"], "problems")
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "curves.csv", out_dir / "eval.csv", out_dir / "problems.csv"]
    for df, p in zip((curves, ev, pr), paths, strict=True):
        df.to_csv(p, index=False)
    return paths


def level_standardised(curves: pd.DataFrame, window: int = LEVEL_WINDOW) -> pd.Series:
    """Rollout accuracy standardised over difficulty levels, per run and logged rollout step.

    Each level's accuracy (``accuracy/level_<d>`` columns) is averaged over the last ``window`` steps
    that drew it; the value is the unweighted mean over the run's levels (direct standardisation to an
    equal mix of levels), NaN until every level has been drawn and on steps without rollouts. With a few
    prompts per step, which levels a step draws moves its raw accuracy more than training does."""
    cols = [c for c in curves.columns if str(c).startswith(LEVEL_PREFIX)]
    out = pd.Series(np.nan, index=curves.index, dtype=float)
    if not cols or curves.empty:
        return out
    for _, g in curves.sort_values("step").groupby(RUN_KEYS, sort=False, dropna=False):
        levels = g[cols].dropna(axis=1, how="all")
        if levels.empty:
            continue
        drawn = levels.notna().any(axis=1)
        per_level = levels.apply(lambda s: s.dropna().rolling(window, min_periods=1).mean())
        per_level = per_level.reindex(levels.index).ffill()
        out.loc[g.index[drawn.to_numpy()]] = per_level[drawn].mean(axis=1, skipna=False)
    return out


# --------------------------------------------------------------------------------------------------
# reading aggregates back (shared by tables / figures / report)
# --------------------------------------------------------------------------------------------------
def read_curves(path) -> pd.DataFrame:
    if path is None or not Path(path).is_file():
        return pd.DataFrame(columns=CURVE_REQUIRED)
    df = pd.read_csv(path, dtype={"size": str, "method": str, "exp": str})
    return df


def read_eval(path) -> pd.DataFrame:
    if path is None or not Path(path).is_file():
        return pd.DataFrame(columns=EVAL_COLUMNS)
    df = pd.read_csv(path, dtype={"difficulty": str, "size": str, "method": str, "exp": str})
    df["k"] = pd.to_numeric(df["k"], errors="coerce")
    return df


def read_problems(path) -> pd.DataFrame:
    if path is None or not Path(path).is_file():
        return pd.DataFrame(columns=PROBLEM_COLUMNS)
    return pd.read_csv(
        path, dtype={"difficulty": str, "problem_id": str, "size": str, "method": str, "exp": str}
    )


def read_tables(data_dir) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    d = Path(data_dir)
    return read_curves(d / "curves.csv"), read_eval(d / "eval.csv"), read_problems(d / "problems.csv")


def _ordered(values: Iterable, order: Sequence[str]) -> list:
    vals = list(dict.fromkeys(v for v in values if isinstance(v, str) or not _isnan(v)))
    known = [v for v in order if v in vals]
    rest = sorted((v for v in vals if v not in order), key=str)
    return known + rest


def _isnan(v) -> bool:
    try:
        return math.isnan(float(v))
    except (TypeError, ValueError):
        return False


def method_order(values: Iterable) -> list:
    return _ordered(values, METHOD_ORDER)


def size_order(values: Iterable) -> list:
    return _ordered(values, SIZE_ORDER)


def difficulty_order(values: Iterable) -> list:
    """Numeric levels ascending; else known words (easy < medium < hard); else alphabetical."""
    vals = [v for v in dict.fromkeys(values) if isinstance(v, str) and v.strip() and v.lower() != "nan"]
    try:
        return sorted(vals, key=float)
    except ValueError:
        pass
    words = [v for v in vals if v.lower() in DIFFICULTY_WORDS]
    if len(words) == len(vals):
        return sorted(vals, key=lambda v: DIFFICULTY_WORDS.index(v.lower()))
    return sorted(vals)


def hardest_difficulty(values: Iterable) -> str | None:
    order = difficulty_order(values)
    return order[-1] if order else None


def eval_select(
    ev: pd.DataFrame, metric: str, split: str, k: int | None = None, difficulty: str | None = None
) -> pd.DataFrame:
    m = (ev["metric"] == metric) & (ev["split"] == split)
    if k is not None:
        m &= ev["k"] == k
    if difficulty is not None:
        if difficulty == "hardest":
            sub = ev[m]
            difficulty = hardest_difficulty(sub["difficulty"].dropna().astype(str))
            if difficulty is None:
                return ev.iloc[0:0]
        m &= ev["difficulty"].astype(str) == str(difficulty)
    return ev[m]


def eval_seed_values(
    ev: pd.DataFrame,
    metric: str,
    splits: str | Sequence[str],
    k: int | None = None,
    difficulty: str | None = None,
) -> pd.DataFrame:
    """One value per (exp, size, method, seed); several splits -> their unweighted mean (a macro average).

    Runs missing any of the requested splits are dropped.
    """
    splits = [splits] if isinstance(splits, str) else list(splits)
    parts = []
    for sp in splits:
        sub = eval_select(ev, metric, sp, k, difficulty)
        parts.append(sub.groupby(RUN_KEYS, as_index=False)["value"].mean().assign(split=sp))
    if not parts:
        return pd.DataFrame(columns=[*RUN_KEYS, "value"])
    df = pd.concat(parts, ignore_index=True)
    g = df.groupby(RUN_KEYS, as_index=False).agg(value=("value", "mean"), n_splits=("split", "nunique"))
    return g[g["n_splits"] == len(splits)][[*RUN_KEYS, "value"]].reset_index(drop=True)


def final_window(steps: np.ndarray, frac: float) -> np.ndarray:
    """Boolean mask of the last ``frac`` share of the steps (at least one step)."""
    steps = np.asarray(steps)
    if steps.size == 0:
        return np.zeros(0, dtype=bool)
    n_last = max(1, int(math.ceil(frac * steps.size)))
    cutoff = np.sort(steps)[-n_last]
    return steps >= cutoff


def curve_seed_values(
    curves: pd.DataFrame, key: str, frac: float = 0.1, where: str = "final"
) -> pd.DataFrame:
    """Per run: mean of ``key`` over the final (or first) ``frac`` share of logged steps."""
    if key not in curves.columns:
        return pd.DataFrame(columns=[*RUN_KEYS, "value"])
    rows = []
    for run, g in curves.dropna(subset=[key]).groupby(RUN_KEYS):
        steps = g["step"].to_numpy()
        if where == "final":
            mask = final_window(steps, frac)
        else:
            mask = final_window(-steps, frac)
        rows.append((*run, float(g.loc[mask, key].mean())))
    return pd.DataFrame(rows, columns=[*RUN_KEYS, "value"])


def smooth(values: Sequence[float], window: int) -> np.ndarray:
    """Trailing rolling mean (min_periods=1), the light smoothing used for curves and step counts."""
    s = pd.Series(np.asarray(values, dtype=float))
    if window <= 1:
        return s.to_numpy()
    return s.rolling(window, min_periods=1).mean().to_numpy()


def steps_to_target(steps: Sequence[int], values: Sequence[float], target: float, window: int) -> float:
    """First step at which the smoothed curve reaches ``target``; nan if it never does."""
    order = np.argsort(np.asarray(steps))
    st = np.asarray(steps)[order]
    sm = smooth(np.asarray(values, dtype=float)[order], window)
    hit = np.nonzero(sm >= target)[0]
    return float(st[hit[0]]) if hit.size else math.nan


# --------------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rlvr aggregate", description=__doc__.split("\n\n")[0])
    p.add_argument("--metrics", nargs="*", default=[], help="per-run metrics.jsonl files")
    p.add_argument("--eval", nargs="*", default=[], help="per-run eval.csv files")
    p.add_argument("--problems", nargs="*", default=[], help="per-run problems.csv files")
    p.add_argument("--out-dir", required=True, help="writes curves.csv, eval.csv, problems.csv here")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        paths = aggregate(args.metrics, args.eval, args.problems, args.out_dir)
    except AggregateError as exc:
        print(f"[aggregate] error: {exc}", file=sys.stderr)
        return 2
    for p in paths:
        print(p)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
