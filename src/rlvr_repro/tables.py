"""Result tables: method x size per metric/split, head-to-head, paired differences vs GRPO, decomposition.

CLI::

    rlvr tables --eval D/eval.csv --problems D/problems.csv [--curves D/curves.csv] --out-dir T
                [--ci t|bootstrap] [--level 0.95] [--reference grpo] [--start sft] [--final-frac 0.1]

Every table is written as ``T/<name>.csv`` (the displayed cells), ``T/<name>.md`` and ``T/<name>.tex``
(booktabs); numeric values behind the cells are in ``T/summary_long.csv``, ``T/paired_long.csv`` and
``T/decomposition_long.csv``; ``T/tables.json`` lists every table with its caption.

Table names: ``avg_at_n_<split>``, ``greedy_acc_<split>``, ``mean_length_<split>`` (method x size, one per
metric and split; all of them also concatenated in ``method_size.md`` / ``method_size.tex``),
``head_to_head`` (every method incl. the stack, all sizes), ``paired_vs_<reference>`` (method - GRPO on
matching seeds), ``passk_decomposition`` (needs --problems with the start model), ``training_final``
(needs --curves).

Cells are "mean ± half-width" of the 95% interval over seeds (``stats.DEFAULT_SEED_CI``: Student-t;
for an asymmetric bootstrap interval the half-width is (hi - lo) / 2). Accuracies are shown in percent.
"""

from __future__ import annotations

import argparse
import html
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from rlvr_repro import stats
from rlvr_repro.aggregate import (
    REFERENCE_METHOD,
    START_METHOD,
    curve_seed_values,
    method_order,
    read_curves,
    read_eval,
    read_problems,
    size_order,
)

ACCURACY_METRICS = {"avg@n", "greedy_acc", "pass@k", "acc_by_difficulty", "accuracy", "reward", "pass@1"}
METRIC_LABEL = {
    "avg@n": "avg@n",
    "greedy_acc": "greedy acc",
    "mean_length": "mean length",
    "pass@k": "pass@k",
    "acc_by_difficulty": "acc by difficulty",
}
SUMMARY_METRICS = ["avg@n", "greedy_acc", "mean_length"]


# --------------------------------------------------------------------------------------------------
# formatting
# --------------------------------------------------------------------------------------------------
def metric_scale(metric: str) -> tuple[float, int, str]:
    """(scale, decimals, unit) used to display a metric."""
    if metric in ACCURACY_METRICS:
        return 100.0, 1, "%"
    if metric in ("mean_length", "completion_length", "steps", "step"):
        return 1.0, 1, "tokens" if "length" in metric else "steps"
    return 1.0, 3, ""


def _num(x: float, dec: int, sign: bool = False) -> str:
    if x is None or not math.isfinite(float(x)):
        return "nan"
    return f"{x:+.{dec}f}" if sign else f"{x:.{dec}f}"


def fmt_pm(mean: float, lo: float, hi: float, metric: str) -> str:
    scale, dec, _ = metric_scale(metric)
    if not math.isfinite(mean):
        return "–"
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return _num(mean * scale, dec)  # one seed: no interval to give
    return f"{_num(mean * scale, dec)} ± {_num((hi - lo) / 2 * scale, dec)}"


def fmt_diff(mean: float, lo: float, hi: float, metric: str, n: int | None = None) -> str:
    scale, dec, _ = metric_scale(metric)
    if not math.isfinite(mean):
        return "–"
    s = f"{_num(mean * scale, dec, True)} [{_num(lo * scale, dec, True)}, {_num(hi * scale, dec, True)}]"
    return s if n is None else f"{s} (n={n})"


def _span(values) -> str:
    vals = sorted({v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))})
    if not vals:
        return "?"
    fmt = [(str(int(v)) if float(v).is_integer() else f"{v:g}") for v in vals]
    return fmt[0] if len(fmt) == 1 else f"{fmt[0]}–{fmt[-1]}"


def problem_counts(problems: pd.DataFrame) -> dict[str, int]:
    if problems.empty:
        return {}
    return {sp: int(g["problem_id"].nunique()) for sp, g in problems.groupby("split")}


# --------------------------------------------------------------------------------------------------
# computations
# --------------------------------------------------------------------------------------------------
def summary_long(
    ev: pd.DataFrame,
    problems: pd.DataFrame | None = None,
    ci: str = stats.DEFAULT_SEED_CI,
    level: float = stats.DEFAULT_LEVEL,
    metrics: Sequence[str] = SUMMARY_METRICS,
) -> pd.DataFrame:
    """Mean and interval over seeds for each (exp, size, method, split, metric)."""
    nprob = problem_counts(problems if problems is not None else pd.DataFrame())
    rows = []
    sub = ev[ev["metric"].isin(metrics)]
    for (exp, size, method, split, metric), g in sub.groupby(["exp", "size", "method", "split", "metric"]):
        per_seed = g.groupby("seed")["value"].mean()
        c = stats.seed_ci(per_seed.to_numpy(), method=ci, level=level)
        rows.append(
            {
                "exp": exp,
                "size": size,
                "method": method,
                "split": split,
                "metric": metric,
                "mean": c.mean,
                "lo": c.lo,
                "hi": c.hi,
                "half_width": c.half_width,
                "n_seeds": c.n,
                "seeds": " ".join(str(s) for s in sorted(per_seed.index)),
                "n_samples": _span(g["n"].tolist()),
                "temperature": _span(g["temperature"].tolist()),
                "n_problems": nprob.get(split, math.nan),
                "ci": ci,
                "level": level,
            }
        )
    return pd.DataFrame(rows)


def paired_long(
    ev: pd.DataFrame,
    reference: str = REFERENCE_METHOD,
    ci: str = stats.DEFAULT_SEED_CI,
    level: float = stats.DEFAULT_LEVEL,
    metrics: Sequence[str] = SUMMARY_METRICS,
) -> pd.DataFrame:
    """Paired difference (method - reference) over matching seeds, per (exp, size, split, metric)."""
    rows = []
    sub = ev[ev["metric"].isin(metrics)]
    for (exp, size, split, metric), g in sub.groupby(["exp", "size", "split", "metric"]):
        by = {m: gg.groupby("seed")["value"].mean().to_dict() for m, gg in g.groupby("method")}
        if reference not in by:
            continue
        for method in method_order(by):
            if method == reference:
                continue
            c = stats.paired_diff_ci(by[method], by[reference], level=level, method=ci)
            rows.append(
                {
                    "exp": exp,
                    "size": size,
                    "method": method,
                    "reference": reference,
                    "split": split,
                    "metric": metric,
                    "diff": c.mean,
                    "lo": c.lo,
                    "hi": c.hi,
                    "n_seeds": c.n,
                    "ci": ci,
                    "level": level,
                }
            )
    return pd.DataFrame(rows)


def decomposition_by_run(
    problems: pd.DataFrame, start: str = START_METHOD, k: int = 16, **params
) -> pd.DataFrame:
    """``stats.passk_decomposition`` for every trained run against the start model on the same seed."""
    rows = []
    if problems.empty:
        return pd.DataFrame()
    for (exp, size, split, seed), g in problems.groupby(["exp", "size", "split", "seed"]):
        before = g[g["method"] == start]
        if before.empty:
            continue
        for method, after in g.groupby("method"):
            if method == start:
                continue
            d = stats.passk_decomposition(before, after, k=k, **params)
            rows.append(
                {
                    "exp": exp,
                    "size": size,
                    "method": method,
                    "split": split,
                    "seed": seed,
                    **{kk: v for kk, v in d.items() if not kk.endswith("_ids")},
                }
            )
    return pd.DataFrame(rows)


def decomposition_summary(
    dec: pd.DataFrame, ci: str = stats.DEFAULT_SEED_CI, level: float = stats.DEFAULT_LEVEL
) -> pd.DataFrame:
    rows = []
    if dec.empty:
        return pd.DataFrame()
    for (exp, size, method, split), g in dec.groupby(["exp", "size", "method", "split"]):
        row = {"exp": exp, "size": size, "method": method, "split": split, "n_seeds": len(g)}
        row["n_problems"] = _span(g["n_problems"].tolist())
        for part in ("self_distillation_share", "capability_gain_share"):
            c = stats.seed_ci(g[part].to_numpy(), method=ci, level=level)
            row[f"{part}_mean"], row[f"{part}_lo"], row[f"{part}_hi"] = c.mean, c.lo, c.hi
        rows.append(row)
    return pd.DataFrame(rows)


def training_final_long(
    curves: pd.DataFrame,
    keys: Sequence[str] = ("accuracy", "entropy", "completion_length"),
    frac: float = 0.1,
    ci: str = stats.DEFAULT_SEED_CI,
    level: float = stats.DEFAULT_LEVEL,
) -> pd.DataFrame:
    rows = []
    for key in keys:
        vals = curve_seed_values(curves, key, frac=frac)
        for (exp, size, method), g in vals.groupby(["exp", "size", "method"]):
            c = stats.seed_ci(g["value"].to_numpy(), method=ci, level=level)
            rows.append(
                {"exp": exp, "size": size, "method": method, "metric": key, "mean": c.mean, "lo": c.lo}
                | {"hi": c.hi, "n_seeds": c.n}
            )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------------
# wide display tables
# --------------------------------------------------------------------------------------------------
def method_size_table(long: pd.DataFrame, metric: str, split: str) -> pd.DataFrame:
    sub = long[(long["metric"] == metric) & (long["split"] == split)]
    sizes = size_order(sub["size"])
    methods = method_order(sub["method"])
    out = pd.DataFrame(index=pd.Index(methods, name="method"), columns=sizes, dtype=object)
    for _, r in sub.iterrows():
        out.loc[r["method"], r["size"]] = fmt_pm(r["mean"], r["lo"], r["hi"], metric)
    return out.fillna("–")


MACRO_METRICS = ("avg@n", "greedy_acc")


def with_macro(ev: pd.DataFrame) -> pd.DataFrame:
    """Add split "macro": per run, the unweighted mean over its splits (benchmarks) of avg@n and
    greedy accuracy, the macro-average the Guide paper reports. Only when a run has >= 2 splits."""
    if ev.empty:
        return ev
    plain = ev[ev["metric"].isin(MACRO_METRICS) & ev["k"].isna() & ev["difficulty"].isna()]
    keys = ["exp", "size", "method", "seed", "metric"]
    grouped = plain.groupby(keys, dropna=False)
    macro = grouped.agg(value=("value", "mean"), n=("n", "first"), temperature=("temperature", "first"))
    macro = macro[grouped["split"].nunique() >= 2].reset_index()
    if macro.empty:
        return ev
    macro["split"] = "macro"
    return pd.concat([ev, macro.reindex(columns=ev.columns)], ignore_index=True)


def split_order(splits) -> list[str]:
    """test and ood first (the synthetic tasks), then benchmarks by name, then the macro-average."""
    present = set(splits)
    head = [s for s in ("test", "ood") if s in present]
    rest = sorted(present - set(head) - {"macro"})
    return head + rest + (["macro"] if "macro" in present else [])


def h2h_columns(long: pd.DataFrame) -> list[tuple[str, str]]:
    splits = split_order(long["split"].unique())
    first = splits[0] if splits else "test"
    return [("avg@n", s) for s in splits] + [("greedy_acc", first), ("mean_length", first)]


def head_to_head_table(long: pd.DataFrame) -> pd.DataFrame:
    sizes = size_order(long["size"])
    methods = method_order(long["method"])
    cols = [
        (size, f"{split} {METRIC_LABEL.get(metric, metric)}")
        for size in sizes
        for metric, split in h2h_columns(long)
        if ((long["metric"] == metric) & (long["split"] == split)).any()
    ]
    out = pd.DataFrame("–", index=pd.Index(methods, name="method"), columns=pd.MultiIndex.from_tuples(cols))
    for _, r in long.iterrows():
        col = (r["size"], f"{r['split']} {METRIC_LABEL.get(r['metric'], r['metric'])}")
        if col in out.columns:
            out.loc[r["method"], col] = fmt_pm(r["mean"], r["lo"], r["hi"], r["metric"])
    return out


def paired_table(paired: pd.DataFrame, metrics=None) -> pd.DataFrame:
    if paired.empty:
        return pd.DataFrame()
    metrics = metrics or [("avg@n", s) for s in split_order(paired["split"].unique())]
    sizes = size_order(paired["size"])
    methods = method_order(paired["method"])
    cols = [
        (size, f"{split} {METRIC_LABEL.get(m, m)}")
        for size in sizes
        for m, split in metrics
        if ((paired["metric"] == m) & (paired["split"] == split) & (paired["size"] == size)).any()
    ]
    out = pd.DataFrame("–", index=pd.Index(methods, name="method"), columns=pd.MultiIndex.from_tuples(cols))
    for _, r in paired.iterrows():
        col = (r["size"], f"{r['split']} {METRIC_LABEL.get(r['metric'], r['metric'])}")
        if col in out.columns:
            out.loc[r["method"], col] = fmt_diff(r["diff"], r["lo"], r["hi"], r["metric"], int(r["n_seeds"]))
    return out


def decomposition_table(summary: pd.DataFrame) -> pd.DataFrame:
    if summary.empty:
        return pd.DataFrame()
    sizes = size_order(summary["size"])
    splits = sorted(summary["split"].unique())
    methods = method_order(summary["method"])
    cols = [
        (f"{size} {split}", part)
        for size in sizes
        for split in splits
        for part in ("self-distill.", "cap. gain")
    ]
    out = pd.DataFrame("–", index=pd.Index(methods, name="method"), columns=pd.MultiIndex.from_tuples(cols))
    for _, r in summary.iterrows():
        grp = f"{r['size']} {r['split']}"
        for part, key in (
            ("self-distill.", "self_distillation_share"),
            ("cap. gain", "capability_gain_share"),
        ):
            out.loc[r["method"], (grp, part)] = fmt_pm(
                r[f"{key}_mean"], r[f"{key}_lo"], r[f"{key}_hi"], "accuracy"
            )
    return out


def training_final_table(long: pd.DataFrame) -> pd.DataFrame:
    if long.empty:
        return pd.DataFrame()
    sizes = size_order(long["size"])
    keys = list(dict.fromkeys(long["metric"]))
    cols = [(size, key) for size in sizes for key in keys]
    methods = method_order(long["method"])
    out = pd.DataFrame("–", index=pd.Index(methods, name="method"), columns=pd.MultiIndex.from_tuples(cols))
    for _, r in long.iterrows():
        out.loc[r["method"], (r["size"], r["metric"])] = fmt_pm(r["mean"], r["lo"], r["hi"], r["metric"])
    return out


# --------------------------------------------------------------------------------------------------
# writers
# --------------------------------------------------------------------------------------------------
def _flat_columns(df: pd.DataFrame) -> list[str]:
    if isinstance(df.columns, pd.MultiIndex):
        return [" · ".join(str(x) for x in c) for c in df.columns]
    return [str(c) for c in df.columns]


def _header_groups(df: pd.DataFrame) -> list[tuple[str, int]]:
    groups: list[tuple[str, int]] = []
    for c in df.columns:
        top = str(c[0])
        if groups and groups[-1][0] == top:
            groups[-1] = (top, groups[-1][1] + 1)
        else:
            groups.append((top, 1))
    return groups


def to_markdown(df: pd.DataFrame, caption: str = "") -> str:
    cols = [df.index.name or ""] + _flat_columns(df)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join([":---"] + ["---:"] * (len(cols) - 1)) + "|"]
    for idx, row in df.iterrows():
        lines.append("| " + " | ".join([str(idx)] + [str(v) for v in row.tolist()]) + " |")
    if caption:
        lines += ["", f"*{caption}*"]
    return "\n".join(lines) + "\n"


_TEX_ESCAPE = {
    "\\": r"\textbackslash{}",
    "_": r"\_",
    "%": r"\%",
    "&": r"\&",
    "#": r"\#",
    "$": r"\$",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "±": r"$\pm$",
    "–": "--",
    "·": r"$\cdot$",
    "×": r"$\times$",
    "−": r"$-$",
    "Δ": r"$\Delta$",
    "≥": r"$\geq$",
    "≤": r"$\leq$",
    "∈": r"$\in$",
}


def tex_escape(s: str) -> str:
    return "".join(_TEX_ESCAPE.get(ch, ch) for ch in str(s))


def to_latex(df: pd.DataFrame, caption: str = "", label: str = "") -> str:
    ncol = len(df.columns)
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\small",
        r"\begin{tabular}{l" + "r" * ncol + "}",
        r"\toprule",
    ]
    if isinstance(df.columns, pd.MultiIndex):
        head, rules, start = [""], [], 2
        for top, span in _header_groups(df):
            head.append(rf"\multicolumn{{{span}}}{{c}}{{{tex_escape(top)}}}")
            rules.append(rf"\cmidrule(lr){{{start}-{start + span - 1}}}")
            start += span
        lines.append(" & ".join(head) + r" \\")
        lines.append(" ".join(rules))
        sub = [tex_escape(df.index.name or "")] + [tex_escape(c[-1]) for c in df.columns]
    else:
        sub = [tex_escape(df.index.name or "")] + [tex_escape(c) for c in df.columns]
    lines.append(" & ".join(sub) + r" \\")
    lines.append(r"\midrule")
    for idx, row in df.iterrows():
        lines.append(" & ".join([tex_escape(idx)] + [tex_escape(v) for v in row.tolist()]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    if caption:
        lines.append(rf"\caption{{{tex_escape(caption)}}}")
    if label:
        lines.append(rf"\label{{tab:{label}}}")
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def to_html(df: pd.DataFrame, caption: str = "") -> str:
    """A plain HTML table (escaped); two-level columns become a grouped header."""
    esc = html.escape
    out = ['<table class="tbl">']
    if caption:
        out.append(f"<caption>{esc(caption)}</caption>")
    out.append("<thead>")
    if isinstance(df.columns, pd.MultiIndex):
        out.append(
            "<tr><th></th>" + "".join(f'<th colspan="{n}">{esc(t)}</th>' for t, n in _header_groups(df))
        )
        out.append("</tr>")
        subs = [str(c[-1]) for c in df.columns]
    else:
        subs = [str(c) for c in df.columns]
    out.append(f"<tr><th>{esc(str(df.index.name or ''))}</th>" + "".join(f"<th>{esc(s)}</th>" for s in subs))
    out.append("</tr></thead><tbody>")
    for idx, row in df.iterrows():
        cells = "".join(f"<td>{esc(str(v))}</td>" for v in row.tolist())
        out.append(f"<tr><th>{esc(str(idx))}</th>{cells}</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def read_display_csv(path: str | Path) -> pd.DataFrame:
    """Read back a display table written by ``write_table`` (two header rows when grouped)."""
    path = Path(path)
    with path.open(encoding="utf-8") as fh:
        first = fh.readline()
    two_level = first.startswith("#grouped")
    df = pd.read_csv(
        path, header=[0, 1] if two_level else 0, index_col=0, dtype=str, skiprows=1 if two_level else 0
    )
    df = df.fillna("–")
    df.index.name = "method"
    return df


def write_table(df: pd.DataFrame, out_dir: Path, name: str, caption: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{name}.csv", out_dir / f"{name}.md", out_dir / f"{name}.tex"]
    with paths[0].open("w", encoding="utf-8", newline="") as fh:
        if isinstance(df.columns, pd.MultiIndex):
            fh.write("#grouped\n")
        df.to_csv(fh)
    paths[1].write_text(to_markdown(df, caption), encoding="utf-8")
    paths[2].write_text(to_latex(df, caption, name), encoding="utf-8")
    return paths


# --------------------------------------------------------------------------------------------------
# captions
# --------------------------------------------------------------------------------------------------
def _ci_words(ci: str, level: float) -> str:
    name = "Student-t" if ci == "t" else "percentile-bootstrap"
    return f"{level:.0%} {name} interval over seeds"


def _spans_of(col) -> str:
    return _span([float(x) for s in col for x in str(s).split("–") if x not in ("?", "", "nan")])


def _caption(long: pd.DataFrame, what: str, ci: str, level: float, extra: str = "") -> str:
    seeds = _span(long["n_seeds"].tolist()) if "n_seeds" in long else "?"
    sampled = long[long["metric"] != "greedy_acc"]
    greedy = long[long["metric"] == "greedy_acc"]
    parts = []
    if len(sampled):
        parts.append(
            f"sampled metrics: n={_spans_of(sampled['n_samples'])} samples per problem at temperature "
            f"{_spans_of(sampled['temperature'])}"
        )
    if len(greedy):
        parts.append(
            f"greedy acc: n={_spans_of(greedy['n_samples'])} at temperature {_spans_of(greedy['temperature'])}"
        )
    probs = ""
    if "n_problems" in long and "split" in long:
        per = long.dropna(subset=["n_problems"]).groupby("split")["n_problems"].max()
        if len(per):
            probs = "; problems: " + ", ".join(f"{sp} {int(v)}" for sp, v in per.items())
    return (
        f"{what}; mean ± half-width of the {_ci_words(ci, level)}; seeds per cell: {seeds}; "
        f"{'; '.join(parts)}{probs}.{extra}"
    )


# --------------------------------------------------------------------------------------------------
# driver
# --------------------------------------------------------------------------------------------------
def make_tables(
    ev: pd.DataFrame,
    problems: pd.DataFrame,
    curves: pd.DataFrame,
    out_dir,
    ci: str = stats.DEFAULT_SEED_CI,
    level: float = stats.DEFAULT_LEVEL,
    reference: str = REFERENCE_METHOD,
    start: str = START_METHOD,
    final_frac: float = 0.1,
    decomposition_k: int = 16,
) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    manifest: dict[str, dict] = {}

    def emit(df: pd.DataFrame, name: str, caption: str) -> None:
        if df.empty:
            return
        written.extend(write_table(df, out_dir, name, caption))
        manifest[name] = {"caption": caption, "csv": f"{name}.csv", "md": f"{name}.md", "tex": f"{name}.tex"}

    ev = with_macro(ev)
    long = summary_long(ev, problems, ci=ci, level=level)
    long.to_csv(out_dir / "summary_long.csv", index=False)
    written.append(out_dir / "summary_long.csv")
    for metric in SUMMARY_METRICS:
        for split in sorted(long["split"].unique()) if not long.empty else []:
            sub = long[(long["metric"] == metric) & (long["split"] == split)]
            if sub.empty:
                continue
            name = f"{metric.replace('@', '_at_')}_{split}"
            label = f"{split} {METRIC_LABEL.get(metric, metric)}"
            unit = " (percent)" if metric in ACCURACY_METRICS else " (tokens)" if "length" in metric else ""
            emit(
                method_size_table(long, metric, split),
                name,
                _caption(sub, f"{label}{unit}, method × size", ci, level),
            )

    ms = [n for n in manifest if any(n.startswith(m.replace("@", "_at_")) for m in SUMMARY_METRICS)]
    if ms:  # all method x size tables in one file each for Markdown and LaTeX
        md = "\n".join((out_dir / f"{n}.md").read_text(encoding="utf-8") for n in ms)
        tex = "\n".join((out_dir / f"{n}.tex").read_text(encoding="utf-8") for n in ms)
        (out_dir / "method_size.md").write_text(md, encoding="utf-8")
        (out_dir / "method_size.tex").write_text(tex, encoding="utf-8")
        written += [out_dir / "method_size.md", out_dir / "method_size.tex"]

    if not long.empty:
        emit(
            head_to_head_table(long),
            "head_to_head",
            _caption(
                long,
                "Head-to-head: all methods and the stack (accuracies in percent, length in tokens)",
                ci,
                level,
            ),
        )

    paired = paired_long(ev, reference=reference, ci=ci, level=level)
    paired.to_csv(out_dir / "paired_long.csv", index=False)
    written.append(out_dir / "paired_long.csv")
    if not paired.empty:
        seeds = _span(paired["n_seeds"].tolist())
        emit(
            paired_table(paired),
            f"paired_vs_{reference}",
            f"Paired difference method − {reference} on matching seeds (percentage points): mean "
            f"[{_ci_words(ci, level)}] (n = seeds matched: {seeds}).",
        )

    dec = decomposition_by_run(problems, start=start, k=decomposition_k)
    dsum = decomposition_summary(dec, ci=ci, level=level)
    if not dec.empty:
        dec.to_csv(out_dir / "decomposition_long.csv", index=False)
        written.append(out_dir / "decomposition_long.csv")
        emit(
            decomposition_table(dsum),
            "passk_decomposition",
            f"pass@k decomposition vs the start model ({start}), share of problems (percent): self-distillation "
            f"= solved at pass@{decomposition_k} before (unbiased estimate >= 0.5) and newly at pass@1 after "
            f"(c/n >= 0.5); capability gain = not solved at pass@{decomposition_k} before, solved at pass@1 "
            f"after. {_ci_words(ci, level)}; seeds: {_span(dsum['n_seeds'].tolist())}; problems: "
            f"{', '.join(sorted(set(dsum['n_problems'].astype(str))))}.",
        )

    tl = (
        training_final_long(curves, frac=final_frac, ci=ci, level=level)
        if not curves.empty
        else pd.DataFrame()
    )
    if not tl.empty:
        emit(
            training_final_table(tl),
            "training_final",
            f"Training metrics averaged over the final {final_frac:.0%} of logged steps (accuracy = share of "
            f"training rollouts correct, in percent); mean ± half-width of the {_ci_words(ci, level)}; "
            f"seeds per cell: {_span(tl['n_seeds'].tolist())}.",
        )

    (out_dir / "tables.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    written.append(out_dir / "tables.json")
    return written


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rlvr tables", description=__doc__.split("\n\n")[0])
    p.add_argument("--eval", required=True, help="aggregated eval.csv")
    p.add_argument("--problems", default=None, help="aggregated problems.csv (problem counts, decomposition)")
    p.add_argument("--curves", default=None, help="aggregated curves.csv (final training metrics)")
    p.add_argument("--out-dir", required=True, help="folder for the CSV, Markdown and LaTeX tables")
    p.add_argument(
        "--ci", choices=["t", "bootstrap"], default=stats.DEFAULT_SEED_CI, help="interval over seeds"
    )
    p.add_argument("--level", type=float, default=stats.DEFAULT_LEVEL, help="interval level (0.95)")
    p.add_argument("--reference", default=REFERENCE_METHOD, help="baseline method of the paired differences")
    p.add_argument("--start", default=START_METHOD, help="start model for the pass@k decomposition")
    p.add_argument("--final-frac", type=float, default=0.1, help="share of final steps averaged")
    p.add_argument("--decomposition-k", type=int, default=16, help="k of the 'solved before' side")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for f in (args.eval, args.problems, args.curves):
        if f is not None and not Path(f).is_file():
            print(f"[tables] error: {f}: file not found", file=sys.stderr)
            return 2
    written = make_tables(
        read_eval(args.eval),
        read_problems(args.problems),
        read_curves(args.curves),
        args.out_dir,
        ci=args.ci,
        level=args.level,
        reference=args.reference,
        start=args.start,
        final_frac=args.final_frac,
        decomposition_k=args.decomposition_k,
    )
    for p in written:
        print(p)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
