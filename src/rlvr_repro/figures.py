"""Figures (200 dpi PNG + vector PDF, matplotlib Agg).

CLI::

    rlvr figures --curves D/curves.csv --eval D/eval.csv --problems D/problems.csv --out-dir F
                 [--provenance P] [--claims paper/claims.yaml] [--report-dir R]
                 [--smooth 5] [--ci t|bootstrap] [--level 0.95] [--start sft] [--decomposition-k 16]

Writes, when the data for them is present, ``F/<name>.png`` and ``F/<name>.pdf`` for every name in
``FIGURE_NAMES``: training curves of reward, level-standardised accuracy (aggregate.level_standardised),
accuracy, entropy and length (one panel per size side by side, one line per method, mean over seeds), ``passk`` (pass@k vs k, rows = splits, columns = sizes),
``acc_by_difficulty`` and ``passk_decomposition``; with ``--claims``, the same figures for the methods
each paper's claims compare in ``F/<paper>/``; with ``--report-dir``, a copy of every PNG in
``R/<group>/<name>.png`` (group ``all`` or a paper), the layout Snakemake's report patterns read.
Prints the list of paths.

Methods are drawn in the order of the config's method blocks (from ``--provenance``), labelled with
their ``label:`` and styled by position: Okabe-Ito colours (colour-blind safe) crossed with line styles
and markers, so a new method block gets its own style without code changes. Bands and error bars are
pointwise intervals over seeds clipped to the metric's range; with fewer than ``MIN_SEEDS_FOR_BAND``
seeds each seed is drawn as a thin line (or dot) instead.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402
from matplotlib.ticker import FixedLocator, MaxNLocator, NullLocator  # noqa: E402

from rlvr_repro import config as cfg  # noqa: E402
from rlvr_repro import stats  # noqa: E402
from rlvr_repro.aggregate import (  # noqa: E402
    LEVEL_COLUMN,
    LEVEL_WINDOW,
    START_METHOD,
    difficulty_order,
    read_curves,
    read_eval,
    read_problems,
    size_order,
    smooth,
)
from rlvr_repro.tables import _span, decomposition_by_run, problem_counts  # noqa: E402

# name: (curves.csv column, axis label, scale, value range for clipping bands; None = observed envelope)
CURVE_FIGURES = {
    "train_reward": ("reward", "Training reward", 1.0, None),
    "train_reward_levels": (LEVEL_COLUMN, "Training accuracy, level-standardised (%)", 100.0, (0.0, 100.0)),
    "train_accuracy": ("accuracy", "Training accuracy (%)", 100.0, (0.0, 100.0)),
    "train_entropy": ("entropy", "Mean token entropy (nats)", 1.0, (0.0, math.inf)),
    "train_length": ("completion_length", "Completion length (tokens)", 1.0, (0.0, math.inf)),
}
FIGURE_NAMES = [*CURVE_FIGURES, "passk", "acc_by_difficulty", "passk_decomposition"]
PERCENT = (0.0, 100.0)
MIN_SEEDS_FOR_BAND = 3
DPI = 200
PANEL_W, PANEL_H = 3.6, 2.7
LEFT_IN, RIGHT_IN, TOP_IN, CAPTION_IN = 0.75, 2.1, 0.8, 0.75

# Okabe & Ito (2008), without black, which marks the start model.
OKABE_ITO = ["#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#F0E442"]
LINESTYLES = ["-", "--", "-.", ":"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]


@dataclass(frozen=True)
class Style:
    color: str
    linestyle: str
    marker: str


START_STYLE = Style("#000000", (0, (1, 1)), "x")


class Methods:
    """Order, labels and styles of the methods of one experiment.

    ``labels`` is ordered as the config's method blocks; the other methods of ``present`` (all the
    methods in the data, so every figure styles a method alike) follow alphabetically, labelled with
    their name. The start model comes first and is black and dotted.
    """

    def __init__(self, labels: dict[str, str] | None = None, start: str = START_METHOD, present=()):
        self.start = start
        self.labels = dict(labels or {})
        self._known = [m for m in self.labels if m != start]
        self._known += sorted({str(m) for m in present} - set(self._known) - {start})

    def order(self, values) -> list[str]:
        present = {str(v) for v in values if isinstance(v, str)}
        known = [m for m in self._known if m in present]
        rest = sorted(present - set(known) - {self.start})
        return ([self.start] if self.start in present else []) + known + rest

    def label(self, method: str) -> str:
        return self.labels.get(method, method)

    def style(self, method: str) -> Style:
        if method == self.start:
            return START_STYLE
        i = self._known.index(method) if method in self._known else len(self._known)
        colour, cycle = i % len(OKABE_ITO), i // len(OKABE_ITO)
        # each pass through the colours shifts the line styles, so 7 x 4 methods are told apart
        linestyle = LINESTYLES[(colour + cycle) % len(LINESTYLES)]
        return Style(OKABE_ITO[colour], linestyle, MARKERS[i % len(MARKERS)])


# --------------------------------------------------------------------------------------------------
# intervals over seeds
# --------------------------------------------------------------------------------------------------
def _interval(mat: np.ndarray, ci: str, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Column-wise mean and interval over rows (seeds); nan-aware; fewer than 2 seeds -> nan band."""
    mat = np.asarray(mat, dtype=float)
    if mat.size == 0:
        return np.array([]), np.array([]), np.array([])
    n = np.isfinite(mat).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nanmean(np.where(n > 0, mat, 0.0), axis=0)
        mean[n == 0] = np.nan
    lo = np.full_like(mean, np.nan)
    hi = np.full_like(mean, np.nan)
    if ci == "t":
        for nn in np.unique(n[n >= 2]):
            cols = n == nn
            sd = np.nanstd(mat[:, cols], axis=0, ddof=1)
            half = stats.t_ppf(0.5 + level / 2.0, int(nn) - 1) * sd / math.sqrt(nn)
            lo[cols], hi[cols] = mean[cols] - half, mean[cols] + half
        return mean, lo, hi
    for j in range(mat.shape[1]):
        col = mat[:, j]
        col = col[np.isfinite(col)]
        if col.size >= 2:
            c = stats.seed_ci(col, method=ci, level=level, n_boot=2000)
            lo[j], hi[j] = c.lo, c.hi
    return mean, lo, hi


def clipped_interval(mat, ci: str, level: float, bounds: tuple[float, float] | None):
    """`_interval` with the band clipped to ``bounds`` (None: the envelope of the values themselves)."""
    mean, lo, hi = _interval(mat, ci, level)
    if bounds is None:
        values = np.asarray(mat, dtype=float)
        bounds = (np.nanmin(values), np.nanmax(values)) if np.isfinite(values).any() else (-np.inf, np.inf)
    with np.errstate(invalid="ignore"):
        return mean, np.clip(lo, *bounds), np.clip(hi, *bounds)


def _ci_words(ci: str, level: float) -> str:
    return f"pointwise {level:.0%} {'t' if ci == 't' else 'bootstrap'} interval over seeds"


def _spread_words(n_seeds: list[int], ci: str, level: float, band: str = "band") -> str:
    """What the shading / error bars show, given the numbers of seeds per method."""
    few = [n for n in n_seeds if n < MIN_SEEDS_FOR_BAND]
    if not few:
        return f"{band}: {_ci_words(ci, level)}, clipped to the metric's range"
    if len(few) == len(n_seeds):
        return f"thin lines/dots: the individual seeds (fewer than {MIN_SEEDS_FOR_BAND}; no interval)"
    return (
        f"{band}: {_ci_words(ci, level)}, clipped to the metric's range; methods with fewer than "
        f"{MIN_SEEDS_FOR_BAND} seeds show each seed as a thin line/dot instead"
    )


# --------------------------------------------------------------------------------------------------
# layout
# --------------------------------------------------------------------------------------------------
def _grid(nrows: int, ncols: int, tick_room: float = 0.5):
    """Panels of fixed size with fixed margins in inches: title on top, legend right, caption below."""
    hgap = 0.55 + tick_room
    width = LEFT_IN + ncols * PANEL_W + (ncols - 1) * 0.55 + RIGHT_IN
    height = TOP_IN + nrows * PANEL_H + (nrows - 1) * hgap + tick_room + CAPTION_IN
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), squeeze=False)
    fig.subplots_adjust(
        left=LEFT_IN / width,
        right=1 - RIGHT_IN / width,
        top=1 - TOP_IN / height,
        bottom=(tick_room + CAPTION_IN) / height,
        wspace=0.55 / PANEL_W,
        hspace=hgap / PANEL_H,
    )
    return fig, axes


def _panel(ax, title: str, xlabel: str, ylabel: str | None) -> None:
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(xlabel, fontsize=8)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)


def _finish(fig, title: str, caption: str, handles_labels, out_dir: Path, name: str) -> list[Path]:
    width, height = fig.get_size_inches()
    fig.suptitle(textwrap.fill(title, width=int(width * 14)), fontsize=9, y=1 - 0.08 / height, va="top")
    wrapped = textwrap.fill(caption, width=max(60, int(width * 15)))
    fig.text(0.1 / width, 0.1 / height, wrapped, fontsize=7, ha="left", va="bottom")
    if handles_labels:
        labels = list(handles_labels)
        fig.legend(
            [handles_labels[k] for k in labels],
            [textwrap.fill(k, 28) for k in labels],
            loc="center left",
            bbox_to_anchor=(1 - (RIGHT_IN - 0.1) / width, 0.5),
            fontsize=7,
            frameon=False,
            handlelength=3.0,
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{name}.png", out_dir / f"{name}.pdf"]
    fig.savefig(paths[0], dpi=DPI, metadata={"Software": None})
    fig.savefig(paths[1], metadata={"CreationDate": None, "Producer": None, "Creator": None})
    plt.close(fig)
    return paths


def _line(ax, x, y, style: Style, **kw):
    return ax.plot(x, y, color=style.color, linestyle=style.linestyle, **kw)[0]


def _seed_lines(ax, x, mat, style: Style) -> None:
    for row in np.atleast_2d(mat):
        ax.plot(x, row, color=style.color, linestyle=style.linestyle, lw=0.6, alpha=0.45)


def _points(ax, x, mat, bounds, style: Style, ci: str, level: float):
    """Mean with clipped error bars over seeds, or the seeds as faint dots when there are too few."""
    mean, lo, hi = clipped_interval(mat, ci, level, bounds)
    n_seeds = int(np.isfinite(np.atleast_2d(mat)).sum(axis=0).max(initial=0))
    if n_seeds >= MIN_SEEDS_FOR_BAND:
        yerr = np.vstack([mean - lo, hi - mean])
        yerr = np.where(np.isfinite(yerr), yerr, 0.0)
    else:
        yerr = None
        for row in np.atleast_2d(mat):
            ax.plot(x, row, color=style.color, marker=style.marker, ms=2.5, lw=0, alpha=0.5)
    h = ax.errorbar(
        x,
        mean,
        yerr=yerr,
        color=style.color,
        ls=style.linestyle,
        lw=1.1,
        ms=3.5,
        marker=style.marker,
        capsize=2,
    )
    return h.lines[0], n_seeds


# --------------------------------------------------------------------------------------------------
# training curves
# --------------------------------------------------------------------------------------------------
def curves_figure(
    curves: pd.DataFrame,
    name: str,
    out_dir: Path,
    methods: Methods,
    window: int,
    ci: str,
    level: float,
    train_note: str = "",
) -> list[Path]:
    key, ylabel, scale, bounds = CURVE_FIGURES[name]
    if key not in curves.columns or curves[key].notna().sum() == 0:
        return []
    data = curves.dropna(subset=[key])
    if key == LEVEL_COLUMN:
        window = 1  # already a per-level trailing mean (aggregate.level_standardised)
    sizes = size_order(data["size"])
    fig, axes = _grid(1, len(sizes))
    legend: dict = {}
    seeds_seen, steps_seen = [], []
    for j, size in enumerate(sizes):
        ax = axes[0, j]
        ds = data[data["size"] == size]
        for method in methods.order(ds["method"]):
            wide = ds[ds["method"] == method].pivot_table(
                index="seed", columns="step", values=key, aggfunc="mean"
            )
            wide = wide.sort_index(axis=1)
            mat = np.vstack([smooth(row, window) for row in wide.to_numpy()]) * scale
            style, x = methods.style(method), wide.columns.to_numpy()
            mean, lo, hi = clipped_interval(mat, ci, level, bounds)
            line = _line(ax, x, mean, style, lw=1.3)
            if wide.shape[0] >= MIN_SEEDS_FOR_BAND:
                ax.fill_between(x, lo, hi, color=style.color, alpha=0.18, lw=0)
            else:
                _seed_lines(ax, x, mat, style)
            legend.setdefault(methods.label(method), line)
            seeds_seen.append(wide.shape[0])
            steps_seen.append(wide.shape[1])
        _panel(ax, f"size: {size}", "optimizer step", ylabel if j == 0 else None)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if bounds == PERCENT:
            ax.set_ylim(*PERCENT)
    used = min(window, max(steps_seen))
    smoothing = f"trailing mean over {used} logged steps" if used > 1 else "unsmoothed"
    if key == LEVEL_COLUMN:
        smoothing = f"each level over its last {LEVEL_WINDOW} rollout steps, equal weight per level"
    title = f"{ylabel} during training ({smoothing}; {_spread_words(seeds_seen, ci, level)})"
    caption = (
        f"Seeds per method: {_span(seeds_seen)}; logged steps per run: {_span(steps_seen)}. Values are "
        "measured on the training rollouts; "
        + (
            train_note
            or "rollouts per prompt and sampling temperature as in each run's config (provenance.json)."
        )
    )
    return _finish(fig, title, caption, legend, out_dir, name)


# --------------------------------------------------------------------------------------------------
# pass@k and accuracy by difficulty
# --------------------------------------------------------------------------------------------------
def _eval_caption(sub: pd.DataFrame, nprob: dict, spread: str) -> str:
    seeds = sub.groupby(["size", "method"])["seed"].nunique().tolist()
    probs = ", ".join(f"{sp} {nprob[sp]}" for sp in sorted(set(sub["split"])) if sp in nprob) or "?"
    return (
        f"Seeds per point: {_span(seeds)}; problems: {probs}; samples per problem n={_span(sub['n'].tolist())} "
        f"at temperature {_span(sub['temperature'].tolist())}; {spread}."
    )


def passk_figure(ev, nprob, out_dir: Path, methods: Methods, ci: str, level: float) -> list[Path]:
    sub = ev[(ev["metric"] == "pass@k") & ev["k"].notna()]
    if sub.empty:
        return []
    splits = sorted(sub["split"].unique())
    sizes = size_order(sub["size"])
    fig, axes = _grid(len(splits), len(sizes))
    legend: dict = {}
    seeds_seen = []
    for i, split in enumerate(splits):
        for j, size in enumerate(sizes):
            ax = axes[i, j]
            d = sub[(sub["split"] == split) & (sub["size"] == size)]
            for method in methods.order(d["method"]):
                wide = d[d["method"] == method].pivot_table(index="seed", columns="k", values="value")
                wide = wide.sort_index(axis=1)
                ks = wide.columns.to_numpy(dtype=float)
                h, n = _points(ax, ks, wide.to_numpy() * 100, PERCENT, methods.style(method), ci, level)
                legend.setdefault(methods.label(method), h)
                seeds_seen.append(n)
            ax.set_xscale("log", base=2)
            ks_all = sorted(d["k"].dropna().astype(int).unique())
            ax.xaxis.set_major_locator(FixedLocator(ks_all))
            ax.xaxis.set_minor_locator(NullLocator())
            ax.set_xticklabels([str(k) for k in ks_all])
            ax.set_ylim(0, 100)
            _panel(ax, f"{split} · size: {size}", "k", "pass@k (%)" if j == 0 else None)
    title = "pass@k (unbiased estimator) by split and size"
    caption = _eval_caption(sub, nprob, _spread_words(seeds_seen, ci, level, "error bars"))
    return _finish(fig, title, caption, legend, out_dir, "passk")


def difficulty_figure(ev, nprob, out_dir: Path, methods: Methods, ci: str, level: float) -> list[Path]:
    sub = ev[(ev["metric"] == "acc_by_difficulty") & ev["difficulty"].notna()].copy()
    if sub.empty:
        return []
    sub["difficulty"] = sub["difficulty"].astype(str)
    splits = sorted(sub["split"].unique())
    sizes = size_order(sub["size"])
    fig, axes = _grid(len(splits), len(sizes))
    legend: dict = {}
    seeds_seen = []
    for i, split in enumerate(splits):
        levels = difficulty_order(sub.loc[sub["split"] == split, "difficulty"])
        for j, size in enumerate(sizes):
            ax = axes[i, j]
            d = sub[(sub["split"] == split) & (sub["size"] == size)]
            order = methods.order(d["method"])
            for mi, method in enumerate(order):
                wide = d[d["method"] == method].pivot_table(
                    index="seed", columns="difficulty", values="value"
                )
                wide = wide.reindex(columns=levels)
                x = np.arange(len(levels)) + (mi - (len(order) - 1) / 2) * 0.04
                mat = wide.to_numpy(dtype=float) * 100
                h, n = _points(ax, x, mat, PERCENT, methods.style(method), ci, level)
                legend.setdefault(methods.label(method), h)
                seeds_seen.append(n)
            ax.set_xticks(np.arange(len(levels)), levels, fontsize=7)
            ax.set_ylim(0, 100)
            _panel(ax, f"{split} · size: {size}", "difficulty", "avg@n (%)" if j == 0 else None)
    title = "Accuracy (avg@n) by difficulty level"
    caption = _eval_caption(sub, nprob, _spread_words(seeds_seen, ci, level, "error bars"))
    return _finish(fig, title, caption, legend, out_dir, "acc_by_difficulty")


# --------------------------------------------------------------------------------------------------
# pass@k decomposition
# --------------------------------------------------------------------------------------------------
DECOMPOSITION_PARTS = [  # column, legend label, colour, hatch
    ("self_distillation_share", "self-distillation", OKABE_ITO[3], ""),
    ("capability_gain_share", "capability gain", OKABE_ITO[4], "///"),
]


def _bar_part(ax, x, vals_per_method: list[np.ndarray], color, hatch, ci, level):
    """Bars of the mean with error bars clipped to 0-100 %, or the seeds as dots when there are too few."""
    means, lower, upper = [], [], []
    for vals in vals_per_method:
        c = stats.seed_ci(vals, method=ci, level=level, n_boot=2000)
        half = c.half_width if math.isfinite(c.half_width) and len(vals) >= MIN_SEEDS_FOR_BAND else 0.0
        means.append(c.mean)
        lower.append(min(half, c.mean))
        upper.append(min(half, 100.0 - c.mean))
    bars = ax.bar(x, means, width=0.38, color=color, hatch=hatch, edgecolor="white", lw=0)
    ax.errorbar(x, means, yerr=[lower, upper], fmt="none", ecolor="black", lw=0.8, capsize=2)
    for xi, vals in zip(x, vals_per_method, strict=True):
        if len(vals) < MIN_SEEDS_FOR_BAND:
            ax.plot(np.full(len(vals), xi), vals, "o", color="black", ms=2.5, alpha=0.6)
    return bars


def decomposition_figure(problems, out_dir: Path, methods: Methods, ci: str, level: float, k: int):
    dec = decomposition_by_run(problems, start=methods.start, k=k)
    if dec.empty:
        return []
    splits = sorted(dec["split"].unique())
    sizes = size_order(dec["size"])
    fig, axes = _grid(len(splits), len(sizes), tick_room=1.0)
    legend: dict = {}
    for i, split in enumerate(splits):
        for j, size in enumerate(sizes):
            ax = axes[i, j]
            d = dec[(dec["split"] == split) & (dec["size"] == size)]
            order = methods.order(d["method"])
            x = np.arange(len(order))
            for pi, (col, label, color, hatch) in enumerate(DECOMPOSITION_PARTS):
                vals = [d.loc[d["method"] == m, col].to_numpy() * 100 for m in order]
                legend.setdefault(label, _bar_part(ax, x + (pi - 0.5) * 0.38, vals, color, hatch, ci, level))
            ax.set_xticks(x, [textwrap.fill(methods.label(m), 16) for m in order], rotation=60, ha="right")
            ax.set_ylim(0, 100)
            _panel(ax, f"{split} · size: {size}", "", "share of problems (%)" if j == 0 else None)
            ax.grid(False)
            ax.grid(alpha=0.3, axis="y")
    seeds = dec.groupby(["size", "method", "split"])["seed"].nunique().tolist()
    start = methods.start
    sub = problems[problems["method"] == start]
    caption = (
        f"Start model: {methods.label(start)}. Self-distillation: solved at pass@{k} before (unbiased estimate "
        f"with k=min({k}, n) >= 0.5) and newly at pass@1 after (c/n >= 0.5); capability gain: not solved at "
        f"pass@{k} before, solved at pass@1 after (readings; stats.passk_decomposition). Seeds per bar: "
        f"{_span(seeds)}; problems: {', '.join(f'{sp} {v}' for sp, v in problem_counts(problems).items())}; "
        f"samples per problem n={_span(sub['n'].tolist())}; "
        f"{_spread_words(seeds, ci, level, 'error bars').replace('thin lines/dots', 'dots')}."
    )
    title = f"pass@k decomposition of RLVR gains against the start model ({methods.label(start)})"
    return _finish(fig, title, caption, legend, out_dir, "passk_decomposition")


# --------------------------------------------------------------------------------------------------
# driver
# --------------------------------------------------------------------------------------------------
def make_figures(
    curves: pd.DataFrame,
    ev: pd.DataFrame,
    problems: pd.DataFrame,
    out_dir,
    window: int = 5,
    ci: str = stats.DEFAULT_SEED_CI,
    level: float = stats.DEFAULT_LEVEL,
    start: str = START_METHOD,
    decomposition_k: int = 16,
    train_note: str = "",
    labels: dict[str, str] | None = None,
    methods: Methods | None = None,
) -> list[Path]:
    """Every figure the data allows, in ``out_dir``. Methods are named and styled by ``methods``, else
    by ``labels`` (config order; see Methods)."""
    out_dir = Path(out_dir)
    methods = methods or Methods(labels, start, methods_in(curves, ev, problems))
    nprob = problem_counts(problems)
    paths: list[Path] = []
    if not curves.empty:
        for name in CURVE_FIGURES:
            paths += curves_figure(curves, name, out_dir, methods, window, ci, level, train_note)
    if not ev.empty:
        paths += passk_figure(ev, nprob, out_dir, methods, ci, level)
        paths += difficulty_figure(ev, nprob, out_dir, methods, ci, level)
    if not problems.empty:
        paths += decomposition_figure(problems, out_dir, methods, ci, level, decomposition_k)
    return paths


def methods_in(*frames: pd.DataFrame) -> set[str]:
    return {str(m) for df in frames if "method" in df.columns for m in df["method"].dropna().unique()}


def paper_methods(claims_path) -> dict[str, list[str]]:
    """Per paper of a claims file: the methods and baselines its claims compare, in order of appearance."""
    claims = yaml.safe_load(Path(claims_path).read_text(encoding="utf-8")) or {}
    out: dict[str, list[str]] = {paper: [] for paper in claims.get("papers") or {}}
    for claim in claims.get("claims") or []:
        comparison = (claim.get("test") or {}).get("comparison") or {}
        names = out.setdefault(claim.get("paper", "other"), [])
        for role in ("method", "baseline"):
            for name in np.atleast_1d(comparison.get(role, [])):
                if str(name) not in names:
                    names.append(str(name))
    return {paper: names for paper, names in out.items() if names}


def _only(df: pd.DataFrame, keep: set[str]) -> pd.DataFrame:
    return df[df["method"].isin(keep)] if "method" in df.columns else df


def make_paper_figures(curves, ev, problems, out_dir, groups: dict[str, list[str]], **kw) -> list[Path]:
    """The figures of each paper's methods (plus the start model) in ``out_dir/<paper>/``."""
    start = kw.get("start", START_METHOD)
    kw.setdefault("methods", Methods(kw.pop("labels", None), start, methods_in(curves, ev, problems)))
    paths: list[Path] = []
    for paper, names in groups.items():
        keep = set(names) | {start}
        paths += make_figures(
            _only(curves, keep), _only(ev, keep), _only(problems, keep), Path(out_dir) / paper, **kw
        )
    return paths


def copy_for_report(paths: list[Path], out_dir: Path, report_dir: Path) -> list[Path]:
    """PNG copies as ``report_dir/<group>/<name>.png``: group ``all`` for ``out_dir`` itself, else its subfolder."""
    copies = []
    for path in paths:
        if path.suffix != ".png":
            continue
        group = path.parent.relative_to(out_dir).as_posix()
        target = Path(report_dir) / ("all" if group == "." else group) / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        copies.append(target)
    return copies


def read_config(provenance_path) -> dict:
    """The experiment config recorded in a provenance.json ({} if absent or unreadable, with a warning)."""
    if not provenance_path:
        return {}
    try:
        return json.loads(Path(provenance_path).read_text(encoding="utf-8")).get("config") or {}
    except (OSError, json.JSONDecodeError) as exc:
        print(
            f"[figures] warning: {provenance_path}: unreadable ({exc}); no labels or settings",
            file=sys.stderr,
        )
        return {}


def training_note(provenance_path) -> str:
    """Rollouts per prompt, prompts per step and temperature from a provenance config's ``rl`` block."""
    rl = read_config(provenance_path).get("rl") or {}
    parts = [
        f"{label} {rl[key]}"
        for key, label in (
            ("num_generations", "G ="),
            ("prompts_per_step", "prompts per step:"),
            ("temperature", "temperature"),
            ("steps", "steps:"),
        )
        if key in rl
    ]
    return f"config rl defaults (methods may override): {', '.join(parts)}." if parts else ""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rlvr figures", description=__doc__.split("\n\n")[0])
    p.add_argument("--curves", default=None, help="aggregated curves.csv (training curves)")
    p.add_argument("--eval", default=None, help="aggregated eval.csv (pass@k, accuracy by difficulty)")
    p.add_argument("--problems", default=None, help="aggregated problems.csv (pass@k decomposition)")
    p.add_argument("--out-dir", required=True, help="folder for <name>.png/.pdf (and <paper>/ with --claims)")
    p.add_argument(
        "--smooth", type=int, default=5, help="trailing rolling-mean window (steps) for training curves"
    )
    p.add_argument(
        "--ci", choices=["t", "bootstrap"], default=stats.DEFAULT_SEED_CI, help="interval over seeds"
    )
    p.add_argument("--level", type=float, default=stats.DEFAULT_LEVEL, help="interval level (0.95)")
    p.add_argument("--start", default=START_METHOD, help="method name of the start model (decomposition)")
    p.add_argument("--decomposition-k", type=int, default=16, help="k of the 'solved before' side")
    p.add_argument(
        "--provenance",
        default=None,
        help="a provenance.json: its config gives method order and labels, and its rl block the settings note",
    )
    p.add_argument(
        "--labels",
        type=json.loads,
        default=None,
        help="JSON [[method, label], ...] in config order (default: the provenance config, whose keys are sorted)",
    )
    p.add_argument(
        "--claims", default=None, help="claims YAML: also draw each paper's methods in OUT_DIR/<paper>/"
    )
    p.add_argument("--report-dir", default=None, help="copy every PNG to REPORT_DIR/<all|paper>/<name>.png")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for f in (args.curves, args.eval, args.problems, args.claims):
        if f is not None and not Path(f).is_file():
            print(f"[figures] error: {f}: file not found", file=sys.stderr)
            return 2
    tables = (read_curves(args.curves), read_eval(args.eval), read_problems(args.problems))
    kw = dict(
        window=args.smooth,
        ci=args.ci,
        level=args.level,
        start=args.start,
        decomposition_k=args.decomposition_k,
        train_note=training_note(args.provenance),
    )
    config = read_config(args.provenance)
    labels = dict(args.labels) if args.labels is not None else None
    if labels is None and "methods" in config:
        labels = cfg.method_labels(config)
    kw["methods"] = Methods(labels, args.start, methods_in(*tables))
    out_dir = Path(args.out_dir)
    paths = make_figures(*tables, out_dir, **kw)
    if args.claims:
        paths += make_paper_figures(*tables, out_dir, paper_methods(args.claims), **kw)
    if args.report_dir:
        copy_for_report(paths, out_dir, Path(args.report_dir))
    for p in paths:
        print(p)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
