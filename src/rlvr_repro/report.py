"""Render the claims (evaluated by ``claims.py``), figures and tables as a short regenerated paper.

CLI::

    rlvr report --claims paper/claims.yaml --tables-dir T --figures-dir F --provenance P [P ...]
                --task-properties TP [TP ...] --template paper/report.md.tmpl
                --out results/<exp>/report/report.html
                [--labels JSON] [--data-dir D] [--curves C] [--eval E] [--problems PR] [--wall-times W]
                [--experiment JSON] [--samples S ...]

* ``--data-dir`` holds the aggregated ``curves.csv``, ``eval.csv``, ``problems.csv`` (default: the tables
  directory); ``--curves/--eval/--problems`` override single files.
* Writes ``report.html`` (figures embedded as base64 PNG, CSS inline, no script, no external assets) and
  ``claims.csv`` beside it (one row per claim and model size, with the verdict).
* The page reads like a short paper: title, an abstract with the verdict counts per paper and a table
  of contents, the claims (published value next to ours in the same units, interval, n, MDE, the reason
  for an inconclusive verdict, Holm/BH), the positive control (GRPO vs its SFT start, paired over seeds),
  numbered figures per paper with captions, the task properties against their targets, the tables,
  graded samples, the scope, and the configuration and provenance collapsed at the end. Print CSS keeps
  table rows and figures whole and expands the provenance (the full config is left out of print).
* Methods are shown by their configured ``label:`` (``--labels`` as the figures rule passes it, else the
  provenance config); claim ids keep the registry's names.
* Claims are evaluated by ``rlvr_repro.claims``; this module only renders. ``--experiment`` describes what
  the experiment trains and evaluates (a claim whose methods it does not train is "not run", one whose
  methods or splits are missing from the data is an error).
* The template is Markdown with ``{{placeholder}}`` slots (``markdown`` package when importable, else a
  minimal built-in converter); ``## `` headings become the numbered sections of the table of contents.
* PDF: only when ``pandoc`` and a PDF engine are on PATH; otherwise a log line says it was skipped (a
  browser's "print to PDF" uses the print CSS).
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import json
import math
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from rlvr_repro import config as cfg
from rlvr_repro import stats
from rlvr_repro.aggregate import (
    START_METHOD,
    eval_seed_values,
    method_order,
    read_curves,
    read_eval,
    read_problems,
    size_order,
)
from rlvr_repro.claims import (  # noqa: F401 - re-exported: report.load_claims, report.ClaimsError
    ALL_SIZES,
    ClaimsError,
    Data,
    evaluate_claims,
    experiment_from_json,
    load_claims,
)
from rlvr_repro.tables import _span, problem_counts, read_display_csv, to_html

REFERENCE = "grpo"  # the shared baseline: the positive control and the paired table use it
EVALUATED = (stats.REPRODUCED, stats.CONTRADICTED, stats.INCONCLUSIVE, stats.DESCRIPTIVE)


def log(msg: str) -> None:
    print(f"[report] {msg}", file=sys.stderr)


esc = html.escape


# --------------------------------------------------------------------------------------------------
# method labels
# --------------------------------------------------------------------------------------------------
class Labels:
    """Method key -> configured label; ``text`` swaps whole-word keys inside free text."""

    WORDS = {"stack", "guide", "control", "base"}  # keys that are also English words: kept in prose

    def __init__(self, labels: Mapping[str, str] | None = None):
        self.map = {START_METHOD: "SFT start"} | {str(k): str(v) for k, v in (labels or {}).items()}
        keys = sorted((k for k, v in self.map.items() if k != v), key=len, reverse=True)
        self._all = self._pattern(keys)
        self._prose = self._pattern([k for k in keys if k not in self.WORDS])

    @staticmethod
    def _pattern(keys: list[str]) -> re.Pattern | None:
        return re.compile(r"(?<![\w.-])(" + "|".join(map(re.escape, keys)) + r")(?![\w-])") if keys else None

    def __call__(self, method) -> str:
        return self.map.get(str(method), str(method))

    def order(self, methods) -> list[str]:
        """The start model first, then config order, then the rest as ``aggregate.method_order``."""
        methods = {str(m) for m in methods}
        known = [m for m in self.map if m in methods]
        return known + [m for m in method_order(methods - set(known))]

    def text(self, s, prose: bool = True) -> str:
        """``s`` with method keys as labels; in prose, keys that are English words are left alone."""
        s = "" if s is None else str(s)
        pattern = self._prose if prose else self._all
        return pattern.sub(lambda m: self.map[m.group(1)], s) if pattern else s


def resolve_labels(given: Sequence | Mapping | None, provs: list[dict]) -> Labels:
    """``--labels`` ([[method, label], ...] or {method: label}), else the provenance config's blocks."""
    if given:
        return Labels(dict(given))
    for p in provs:
        config = p.get("config") or {}
        if "methods" in config:
            try:
                return Labels(cfg.method_labels(config))
            except (KeyError, TypeError, AttributeError) as exc:
                log(f"warning: method labels unreadable from the provenance config ({exc!r})")
    return Labels()


# --------------------------------------------------------------------------------------------------
# numbers and units
# --------------------------------------------------------------------------------------------------
def _finite(x) -> float | None:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def num(x, dec: int = 1, sign: bool = False, scale: float = 1.0) -> str:
    """A number for display; missing or not finite -> an en dash (the report never prints "nan")."""
    x = _finite(x)
    if x is None:
        return "–"
    x *= scale
    if round(x, dec) == 0:
        x = 0.0  # no "-0.0"
    return f"{x:+.{dec}f}" if sign else f"{x:.{dec}f}"


@dataclass(frozen=True)
class Units:
    """How one statistic is shown: values in ``level`` units (35.0 %), differences in ``diff`` (+10.0 pts)."""

    scale: float
    dec: int
    level: str
    diff: str

    def value(self, x) -> str:
        s = num(x, self.dec, scale=self.scale)
        return s if s == "–" or not self.level else f"{s} {self.level}".replace(" %", "%")

    def delta(self, x) -> str:
        s = num(x, self.dec, True, self.scale)
        return s if s == "–" or not self.diff else f"{s} {self.diff}"

    def size(self, x) -> str:
        """An unsigned difference (MDE, half-width, bound) in the difference units."""
        s = num(x, self.dec, scale=self.scale)
        return s if s == "–" or not self.diff else f"{s} {self.diff}"

    def interval(self, lo, hi) -> str:
        if _finite(lo) is None or _finite(hi) is None:
            return ""
        return f"[{num(lo, self.dec, True, self.scale)}, {num(hi, self.dec, True, self.scale)}]"


PERCENT = Units(100.0, 1, "%", "pts")
SHARE_METRICS = {"avg@n", "greedy_acc", "pass@k", "pass@1", "acc_by_difficulty", "accuracy", "reward"}


def test_units(test: Mapping) -> Units:
    kind, metric = test["kind"], str(test.get("metric", ""))
    if kind == "steps_to_target":
        return Units(1.0, 1, "steps", "steps")
    if kind in ("problem_pass1", "decomposition", "decomposition_part") or metric in SHARE_METRICS:
        return PERCENT
    if metric == "entropy":
        return Units(1.0, 3, "nats", "nats")
    if "length" in metric:
        return Units(1.0, 1, "tokens", "tokens")
    return Units(1.0, 3, "", "")


# --------------------------------------------------------------------------------------------------
# claims
# --------------------------------------------------------------------------------------------------
def verdict_badge(v: str) -> str:
    cls = {"reproduced": "v-rep", "contradicted": "v-con", "inconclusive": "v-inc"}.get(v, "v-nr")
    return f'<span class="badge {cls}">{esc(v)}</span>'


def _evaluated(row: Mapping) -> bool:
    return row["verdict"] in EVALUATED and row["size"] != ALL_SIZES


DIRECTION_WORDS = {"greater": "claimed &gt; 0", "less": "claimed &lt; 0", "equivalent": "claimed ≈ 0"}


def claim_cell(c: Mapping, rows: pd.DataFrame, labels: Labels, fig_refs: Sequence[int]) -> str:
    t = c["test"]
    cmp_ = f"{labels(t['comparison']['method'])} − {labels(t['comparison']['baseline'])}"
    splits = ", ".join(
        dict.fromkeys(x for s in rows["splits"].dropna() for x in str(s).replace("|", " ").split())
    )
    where = f"; splits {esc(splits)}" if splits else ""
    unit = "seeds" if t["unit"] == "seed" else "problems × seeds"
    figs = f"; Fig. {', '.join(map(str, fig_refs))}" if fig_refs else ""
    tag = ' <span class="tag">exploratory</span>' if c.get("exploratory") else ""
    return (
        f"<p class='claim'>{esc(c['paraphrase'])}{tag}</p>"
        f"<p class='muted'>{esc(t['statistic'])}: {esc(cmp_)}, {DIRECTION_WORDS[t['direction']]};"
        f" paired over {unit}{where}{figs}. <code>{esc(c['id'])}</code></p>"
    )


def published_cell(c: Mapping, units: Units) -> str:
    pub = _finite((c.get("published_effect") or {}).get("value"))
    head = f"<b>Δ {esc(units.delta(pub))}</b><br>" if pub is not None else ""
    return f"{head}<span class='muted'>{esc(str(c.get('published', '')))}</span>"


def ours_cell(row: Mapping, labels: Labels, units: Units) -> str:
    if row["size"] == ALL_SIZES:
        return f"<span class='muted'>{esc(labels.text(row['note'], prose=False))}</span>"
    n = int(row["n"])
    n_words = f"{n} seeds" if row["unit"] == "seed" else f"{n} problems × {int(row['n_seeds'])} seeds"
    ci = units.interval(row["lo"], row["hi"])
    return (
        f"<b>Δ {esc(units.delta(row['diff']))}</b> {esc(ci) or '(no interval)'}<br>"
        f"<span class='muted'>{esc(labels(row['method']))} {esc(units.value(row['method_value']))} vs "
        f"{esc(labels(row['baseline']))} {esc(units.value(row['baseline_value']))}; "
        f"n&nbsp;=&nbsp;{n_words}</span>"
    )


def multiplicity_cell(row: Mapping) -> str:
    """p-value and its Holm/BH adjustment within the paper's family of confirmatory rows."""
    if bool(row.get("exploratory")):
        return "<span class='muted'>exploratory: outside the Holm family</span>"
    n_family = _finite(row.get("n_family"))
    if n_family is None:
        return ""
    text = f"p {p_text(row.get('p'))}; Holm-adjusted {p_text(row.get('p_holm'))} of {int(n_family)} tested"
    if row.get("holm") in ("survives", "does not survive"):
        text += f": {row['holm']} (BH: {row['bh']})"
    return f"<span class='muted'>{esc(text)}</span>"


def p_text(p) -> str:
    p = _finite(p)
    return "–" if p is None else "< 0.001" if p < 0.001 else f"{p:.3f}"


def reason_cell(row: Mapping, units: Units) -> str:
    """Power and magnitude: MDE, why an inconclusive row is inconclusive, the published comparison."""
    if row["size"] == ALL_SIZES:
        return "<span class='muted'>every model must reproduce (intersection-union test)</span>"
    parts = []
    mde, min_eff = units.size(row["mde"]), units.size(row["min_effect"])
    if row["verdict"] == stats.DESCRIPTIVE:
        parts.append("one seed per method: no interval, so no verdict")
    elif row["reading"] == "underpowered":
        parts.append(
            f"<b>underpowered</b>: half-width {esc(units.size(row['reading_value']))}; the MDE "
            f"{esc(mde)} exceeds the smallest effect of interest ({esc(min_eff)})"
        )
    elif row["reading"]:
        parts.append(
            f"<b>no effect larger than {esc(units.size(row['reading_value']))}</b> on the claimed side "
            f"(MDE {esc(mde)} ≤ {esc(min_eff)} of interest)"
        )
    else:
        parts.append(f"MDE {esc(mde)}")
    if _finite(row.get("se")) == 0.0:
        parts.append("no variation between units: a zero-width interval, not certainty")
    check = str(row.get("published_check") or "")
    if check and check != "no published number":
        parts.append(f"vs published: {esc(check)}")
    return "<br>".join(parts)


def claim_rows_html(c: Mapping, rows: pd.DataFrame, labels: Labels, fig_refs: Sequence[int]) -> str:
    units = test_units(c["test"])
    out = []
    for i, (_, r) in enumerate(rows.iterrows()):
        cells = ""
        if i == 0:
            span = f' rowspan="{len(rows)}"' if len(rows) > 1 else ""
            cells += f"<td{span}>{claim_cell(c, rows, labels, fig_refs)}</td>"
            cells += f"<td{span}>{published_cell(c, units)}</td>"
        size = "all sizes" if r["size"] == ALL_SIZES else esc(str(r["size"]))
        cells += f"<td>{size}</td><td>{ours_cell(r, labels, units)}</td>"
        cells += f"<td>{verdict_badge(r['verdict'])}<br>{multiplicity_cell(r)}</td>"
        cells += f"<td>{reason_cell(r, units)}</td>"
        out.append(f"<tr>{cells}</tr>")
    return f"<tbody class='claim-group'>{''.join(out)}</tbody>"


CLAIMS_HEAD = (
    "<colgroup><col class='c-claim'><col class='c-pub'><col class='c-size'><col class='c-ours'>"
    "<col class='c-verdict'><col class='c-why'></colgroup><thead><tr><th>claim and test</th>"
    "<th>published</th><th>model</th><th>ours: Δ [95% CI]</th><th>verdict</th><th>power, reason</th>"
    "</tr></thead>"
)


def not_run_html(claims: list[dict], results: pd.DataFrame, labels: Labels, further: bool = True) -> str:
    if not claims:
        return ""
    items = []
    for c in claims:
        r = results[results["claim_id"] == c["id"]].iloc[0]
        note = esc(labels.text(r["note"], prose=False))
        items.append(
            f"<li>{verdict_badge(r['verdict'])} {esc(c['paraphrase'])} "
            f"<span class='muted'>({note}) <code>{esc(c['id'])}</code></span></li>"
        )
    return (
        f"<details class='notrun'><summary>{len(claims)}{' further' if further else ''} "
        f"claim{'s' if len(claims) > 1 else ''} not run or not measured in this experiment, with the reason"
        f"</summary><ul>{''.join(items)}</ul></details>"
    )


def paper_claims_html(
    info: Mapping, claims: list[dict], results: pd.DataFrame, labels: Labels, fig_refs: Mapping
) -> str:
    done = [
        c for c in claims if (results.loc[results["claim_id"] == c["id"], "verdict"].isin(EVALUATED)).any()
    ]
    rest = [c for c in claims if c not in done]
    out = []
    if done:
        body = "".join(
            claim_rows_html(c, results[results["claim_id"] == c["id"]], labels, fig_refs.get(c["id"], ()))
            for c in done
        )
        out.append(f"<table class='tbl claims'>{CLAIMS_HEAD}{body}</table>")
    else:
        out.append("<p class='muted'>No claim of this paper could be tested in this experiment.</p>")
    out.append(not_run_html(rest, results, labels, further=bool(done)))
    return "\n".join(out)


def papers_order(doc: dict) -> list[str]:
    papers = doc.get("papers", {})
    return list(papers) + sorted({c["paper"] for c in doc["claims"]} - set(papers))


def claims_by_paper_html(doc: dict, results: pd.DataFrame, labels: Labels, fig_refs: Mapping) -> str:
    out = []
    for p in papers_order(doc):
        claims = [c for c in doc["claims"] if c["paper"] == p]
        if not claims:
            continue
        info = doc.get("papers", {}).get(p, {})
        arxiv = f" <span class='muted'>arXiv {esc(str(info['arxiv']))}</span>" if info.get("arxiv") else ""
        out.append(f"<h3 id='claims-{esc(p)}'>{esc(str(info.get('name', p)))}{arxiv}</h3>")
        if info.get("summary"):
            out.append(f"<p class='lead'>{esc(str(info['summary']))}.</p>")
        out.append(paper_claims_html(info, claims, results, labels, fig_refs))
    return "\n".join(out)


# --------------------------------------------------------------------------------------------------
# abstract: verdict counts
# --------------------------------------------------------------------------------------------------
def verdict_counts(results: pd.DataFrame, claims: list[dict]) -> dict[str, int]:
    """Confirmatory claim × size rows per verdict, tested rows, Holm survivors, claims not run."""
    ids = {c["id"] for c in claims}
    r = results[results["claim_id"].isin(ids) & (results["size"] != ALL_SIZES)]
    main = r[~r["exploratory"].astype(bool)]
    out = {v: int((main["verdict"] == v).sum()) for v in EVALUATED}
    out["claims"] = len(ids)
    out["exploratory"] = int(r.loc[r["exploratory"].astype(bool), "verdict"].isin(EVALUATED).sum())
    evaluated = set(r.loc[r["verdict"].isin(EVALUATED), "claim_id"])
    out["claims_tested"] = len(evaluated)
    out["not_run"] = len(ids - evaluated)
    out["tested"] = int(pd.to_numeric(main["n_family"], errors="coerce").notna().sum())
    out["holm"] = int((main["holm"] == "survives").sum())
    out["bh"] = int((main["bh"] == "survives").sum())
    return out


def summary_html(doc: dict, results: pd.DataFrame) -> str:
    head = (
        "<thead><tr><th>paper</th><th>claims</th><th>with data</th>"
        + "".join(f"<th>{verdict_badge(v)}</th>" for v in EVALUATED)
        + "<th>tested</th><th>survive Holm</th></tr></thead>"
    )
    rows = []
    for p in papers_order(doc):
        claims = [c for c in doc["claims"] if c["paper"] == p]
        if not claims:
            continue
        n = verdict_counts(results, claims)
        name = doc.get("papers", {}).get(p, {}).get("name", p)
        cells = "".join(f"<td>{n[v]}</td>" for v in EVALUATED)
        rows.append(
            f"<tr><th><a href='#claims-{esc(p)}'>{esc(str(name))}</a></th><td>{n['claims']}</td>"
            f"<td>{n['claims_tested']}</td>{cells}<td>{n['tested']}</td><td>{n['holm']}</td></tr>"
        )
    cap = (
        "Verdicts per paper. <i>claims</i>: in the registry; <i>with data</i>: claims whose methods this "
        "experiment trains; verdict columns count confirmatory claim × model-size rows; <i>tested</i>: rows "
        "in the paper's Holm family; <i>survive Holm</i>: reproduced or contradicted rows that stay so "
        "after the correction."
    )
    return f"<table class='tbl summary'><caption>{cap}</caption>{head}<tbody>{''.join(rows)}</tbody></table>"


# --------------------------------------------------------------------------------------------------
# positive control: GRPO vs its SFT start
# --------------------------------------------------------------------------------------------------
def html_table(cls: str, caption: str, head: Sequence[str], rows: Sequence[str]) -> str:
    """A table from header cells (HTML) and rendered ``<tr>`` rows; the caption is escaped."""
    heads = "".join(f"<th>{h}</th>" for h in head)
    return (
        f"<table class='{cls}'><caption>{esc(caption)}</caption><thead><tr>{heads}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _by_seed(g: pd.DataFrame, method: str) -> dict:
    sub = g[g["method"] == method]
    return dict(zip(sub["seed"], sub["value"], strict=True))


def _control_row(g: pd.DataFrame, method: str, start: str, level: float) -> dict | None:
    a, b = _by_seed(g, method), _by_seed(g, start)
    seeds = sorted(set(a) & set(b))
    if not seeds:
        return None
    ci = stats.paired_diff_ci(a, b, level=level, method="t")
    return {
        "start_value": sum(b[s] for s in seeds) / len(seeds),
        "method_value": sum(a[s] for s in seeds) / len(seeds),
        "diff": ci.mean,
        "lo": ci.lo,
        "hi": ci.hi,
        "n": ci.n,
        "verdict": stats.verdict(ci.lo, ci.hi, "greater", n_seeds=ci.n),
    }


def positive_control(ev: pd.DataFrame, method: str = REFERENCE, start: str = START_METHOD,
                     level: float = stats.DEFAULT_LEVEL) -> pd.DataFrame:  # fmt: skip
    """avg@n of ``method`` minus its start model per (exp, size, split), paired over seeds (Student-t);
    rows by size, the "test" split first."""
    cols = ["exp", "size", "split", "start_value", "method_value", "diff", "lo", "hi", "n", "verdict"]
    if ev.empty:
        return pd.DataFrame(columns=cols)
    avg = ev[ev["metric"] == "avg@n"]
    splits = sorted(set(avg["split"].dropna()), key=lambda sp: (sp != "test", sp))
    vals = pd.concat(
        [eval_seed_values(ev, "avg@n", sp).assign(split=sp) for sp in splits] or [pd.DataFrame()]
    )
    rows = []
    for exp in sorted(set(vals.get("exp", []))):
        for size in size_order(vals.loc[vals["exp"] == exp, "size"]):
            for sp in splits:
                g = vals[(vals["exp"] == exp) & (vals["size"] == size) & (vals["split"] == sp)]
                row = _control_row(g, method, start, level)
                if row:
                    rows.append({"exp": exp, "size": size, "split": sp} | row)
    return pd.DataFrame(rows, columns=cols)


def positive_control_html(pc: pd.DataFrame, labels: Labels, method: str = REFERENCE) -> str:
    if pc.empty:
        return (
            f"<p class='muted'>No paired avg@n of {esc(labels(method))} and {esc(labels(START_METHOD))} "
            "in eval.csv: the positive control cannot be computed.</p>"
        )
    several = pc["exp"].nunique() > 1
    start, trained = esc(labels(START_METHOD)), esc(labels(method))
    head = ["experiment"] * several + ["model", "split", f"{start} avg@n", f"{trained} avg@n", "Δ [95% CI]"]
    head += ["seeds", "verdict (claimed &gt; 0)"]
    rows = []
    for _, r in pc.iterrows():
        ci = PERCENT.interval(r["lo"], r["hi"]) or "(no interval)"
        cells = [esc(str(r["exp"]))] * several + [esc(str(r["size"])), esc(str(r["split"]))]
        cells += [PERCENT.value(r["start_value"]), PERCENT.value(r["method_value"])]
        cells += [f"<b>{PERCENT.delta(r['diff'])}</b> {ci}", str(int(r["n"])), verdict_badge(r["verdict"])]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    cap = (
        f"Positive control: test avg@n of {labels(method)} minus its start model ({labels(START_METHOD)}) on "
        "the same seeds, mean of the paired differences with its 95% Student-t interval over seeds "
        "(stats.paired_diff_ci), from eval.csv. Percent; differences in percentage points."
    )
    return html_table("tbl", cap, head, rows)


def positive_control_sentence(pc: pd.DataFrame, labels: Labels, method: str = REFERENCE) -> str:
    """One sentence for the abstract: the primary split ("test" when present) per model."""
    if pc.empty:
        return "The positive control (GRPO against its SFT start) could not be computed from eval.csv."
    first = pc[pc["split"] == pc["split"].iloc[0]]
    parts = [
        " ".join(
            x for x in (f"{r['size']}:", PERCENT.delta(r["diff"]), PERCENT.interval(r["lo"], r["hi"])) if x
        )
        + f" ({r['verdict']})"
        for _, r in first.iterrows()
    ]
    return (
        f"Positive control: {labels(method)} changes {first['split'].iloc[0]} avg@n over its SFT start by "
        f"{'; '.join(parts)}."
    )


# --------------------------------------------------------------------------------------------------
# figures: per paper, numbered, with captions
# --------------------------------------------------------------------------------------------------
FIGURE_TEXT: dict[str, tuple[str, str]] = {
    # name: (what it shows, how to read it)
    "train_reward": (
        "Training reward per optimizer step, measured on the training rollouts, one panel per model size",
        "A line that rises faster or ends higher learns more from the same number of rollouts; it says "
        "nothing yet about held-out problems (the claims use the evaluation).",
    ),
    "train_reward_levels": (
        "Share of training rollouts graded correct, standardised over difficulty levels: each level's "
        "accuracy averaged over its recent rollout steps, then an equal-weight mean over levels",
        "The raw training reward moves with which levels a step happened to draw; this curve holds the mix "
        "of levels fixed, so a rise is the policy improving on the training distribution.",
    ),
    "train_accuracy": (
        "Share of training rollouts graded correct per optimizer step, one panel per model size",
        "Steps-to-target claims read where a method's line first reaches the final level of the baseline's.",
    ),
    "train_entropy": (
        "Mean per-token entropy of the sampled training completions per optimizer step, one panel per "
        "model size",
        "Falling entropy means the policy grows more deterministic (less exploration); a method whose line "
        "stays above the baseline's keeps exploring longer.",
    ),
    "train_length": (
        "Mean completion length in tokens of the training rollouts per optimizer step, one panel per "
        "model size",
        "A rising line means longer completions; a method that up-weights long correct answers should rise "
        "above the baseline, one that does not act on length should track it.",
    ),
    "passk": (
        "pass@k (unbiased estimator, percent) against k on a log scale, one panel per evaluation split "
        "(rows) and model size (columns)",
        "A method above the others at k = 1 but meeting them at large k sharpens what the start model could "
        "already sample; a gap that persists at large k means problems the others cannot solve at all.",
    ),
    "acc_by_difficulty": (
        "Accuracy (avg@n, percent) per difficulty level, one panel per split and model size",
        "Claims about hard problems are read at the hardest level; error bars that overlap the baseline's "
        "there mean that level alone does not separate the methods.",
    ),
    "passk_decomposition": (
        "Share of problems (percent) newly solved at pass@1 after training, split into self-distillation "
        "(already solved by the SFT start at pass@16) and capability gain (not solved at pass@16 before)",
        "A tall self-distillation bar means the method mostly sharpened what the start model could already "
        "sample; a taller capability-gain bar means it reached problems the start model could not.",
    ),
}
FIGURE_METRICS = {  # figure -> which claims it bears on: (kinds, metrics) of their tests
    "train_reward": ({"curve_final", "curve_drop", "steps_to_target"}, {"reward"}),
    "train_reward_levels": ({"curve_final", "curve_drop", "steps_to_target"}, {"reward", "accuracy"}),
    "train_accuracy": ({"curve_final", "curve_drop", "steps_to_target"}, {"accuracy"}),
    "train_entropy": ({"curve_final", "curve_drop"}, {"entropy"}),
    "train_length": (
        {"curve_final", "curve_drop", "eval"},
        {"completion_length", "mean_length", "mean_length_correct"},
    ),
    "passk": ({"eval"}, {"pass@k"}),
    "acc_by_difficulty": ({"eval", "problem_pass1"}, {"acc_by_difficulty", "hardest"}),
    "passk_decomposition": ({"decomposition", "decomposition_part"}, set()),
}
PAPER_FIGURES = [
    "train_reward",
    "train_reward_levels",
    "train_entropy",
    "train_length",
    "passk",
    "acc_by_difficulty",
    "passk_decomposition",
]
FIGURE_MAX_PX = 1800  # embedded PNGs are downscaled to this width (2x the page's column)


def figure_claims(name: str, claims: list[dict]) -> list[str]:
    kinds, metrics = FIGURE_METRICS[name]
    out = []
    for c in claims:
        t = c["test"]
        if t["kind"] not in kinds:
            continue
        hard = t.get("difficulty") == "hardest" or t.get("role") == "hard"
        if not metrics or str(t.get("metric", "")) in metrics or ("hardest" in metrics and hard):
            out.append(c["id"])
    return out


@dataclass
class Figure:
    number: int
    paper: str
    name: str
    path: Path
    claims: list[str]


def plan_figures(doc: dict, fig_dir: Path, present: set[str]) -> list[Figure]:
    """Numbered figures: each paper's set (``F/<paper>/<name>.png``) when its compared method has data;
    without per-paper folders, the all-method set in ``F`` as one group."""
    figs: list[Figure] = []
    groups = [p for p in papers_order(doc) if (fig_dir / p).is_dir()]
    for p in groups or ["all"]:
        claims = [c for c in doc["claims"] if c["paper"] == p] if p != "all" else doc["claims"]
        compared = {c["test"]["comparison"][r] for c in claims for r in ("method", "baseline")}
        if p != "all" and not compared & present - {REFERENCE, START_METHOD}:
            continue  # none of the paper's own methods was trained: its figures would show GRPO alone
        folder = fig_dir / p if p != "all" else fig_dir
        names = PAPER_FIGURES + (["train_accuracy"] if figure_claims("train_accuracy", claims) else [])
        for name in names:
            if (folder / f"{name}.png").is_file():
                figs.append(
                    Figure(len(figs) + 1, p, name, folder / f"{name}.png", figure_claims(name, claims))
                )
    return figs


def png_data(path: Path, max_px: int = FIGURE_MAX_PX) -> tuple[str, int, int]:
    """(base64 PNG, CSS width, CSS height): the figure at its printed size (its dpi against the CSS 96),
    downscaled to ``max_px`` wide and palette-quantised when Pillow is importable (matplotlib ships it)."""
    raw = path.read_bytes()
    try:
        from PIL import Image
    except ImportError:
        return base64.b64encode(raw).decode("ascii"), 0, 0
    with Image.open(io.BytesIO(raw)) as im:
        dpi = float((im.info.get("dpi") or (200.0,))[0]) or 200.0
        css = (round(im.width * 96 / dpi), round(im.height * 96 / dpi))
        if im.width > max_px:
            im = im.resize((max_px, round(im.height * max_px / im.width)), Image.LANCZOS)
        im = im.convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        buf = io.BytesIO()
        im.save(buf, format="PNG", optimize=True)
    small = buf.getvalue()
    return base64.b64encode(small if len(small) < len(raw) else raw).decode("ascii"), *css


def figure_html(fig: Figure, methods_shown: str) -> str:
    what, how = FIGURE_TEXT[fig.name]
    refs = f" Claims it bears on: {', '.join(fig.claims)}." if fig.claims else ""
    caption = (
        f"<b>Figure {fig.number}.</b> {esc(what)}; methods: {esc(methods_shown)}. Lines, points and bars are "
        "means over seeds; bands and error bars their 95% interval over seeds (with fewer than 3 seeds, each "
        f"seed is drawn thin instead). {esc(how)}{esc(refs)}"
    )
    data, width, height = png_data(fig.path)
    size = f" width='{width}' height='{height}'" if width else ""
    # side by side when two fit the column (flex basis 3/4 of the printed width), never above that width
    flex = f" style='flex:1 1 {round(width * 0.75)}px;max-width:{width}px'" if width else ""
    return (
        f"<figure id='fig-{fig.number}'{flex}><img alt='Figure {fig.number}: {esc(what)}'{size} "
        f"src='data:image/png;base64,{data}'><figcaption>{caption}</figcaption></figure>"
    )


def figures_html(doc: dict, figs: list[Figure], labels: Labels, present: set[str]) -> str:
    if not figs:
        return "<p class='muted'>No figures were produced (no data).</p>"
    out = []
    for p in dict.fromkeys(f.paper for f in figs):
        claims = [c for c in doc["claims"] if c["paper"] == p] if p != "all" else doc["claims"]
        compared = {c["test"]["comparison"][r] for c in claims for r in ("method", "baseline")}
        shown = labels.order(m for m in compared | {START_METHOD} if m in present)
        name = doc.get("papers", {}).get(p, {}).get("name", "All methods" if p == "all" else p)
        out.append(f"<h3 id='figures-{esc(p)}'>{esc(str(name))}</h3>")
        out.append("<div class='figs'>")
        for f in (f for f in figs if f.paper == p):
            trained = [m for m in shown if m != START_METHOD or not f.name.startswith("train_")]
            out.append(figure_html(f, ", ".join(labels(m) for m in trained)))
        out.append("</div>")
    return "\n".join(out)


def claim_figure_refs(figs: list[Figure]) -> dict[str, list[int]]:
    refs: dict[str, list[int]] = {}
    for f in figs:
        for cid in f.claims:
            refs.setdefault(cid, []).append(f.number)
    return refs


# --------------------------------------------------------------------------------------------------
# task properties
# --------------------------------------------------------------------------------------------------
PROPERTY_TEXT = {  # name: (what it measures, kind of value), in the order shown
    "mean_success": ("per-rollout success: room for RL to learn and a signal", "share"),
    "hard_all_fail": ("hard prompts whose G rollouts all fail: Guide's regime", "share"),
    "mixed_below_tau": ("mixed groups with success ≤ τ: ADORA up-weights these", "share"),
    "mixed_above_tau": ("mixed groups with success > τ: ADORA is not a uniform factor", "share"),
    "length_rule_holds": ("groups where ADORA's length criterion holds", "share"),
    "solves_some": ("prompts solved at least once in G rollouts", "share"),
    "sft_solves_some_rl": ("RL prompts the SFT start solves at least once in G rollouts", "share"),
    "all_equal": ("groups with all rewards equal: no GRPO signal", "share"),
    "len_correct": ("mean length of correct rollouts", "tokens"),
    "len_wrong": ("mean length of wrong rollouts", "tokens"),
    "length_gap": ("mean length of correct vs wrong rollouts", "tokens"),
    "entropy": ("mean per-token entropy of the sampled completions", "nats"),
    "sft_test_not_saturated": ("test avg@n from eval.csv: a saturated split leaves no room", "share"),
    "grpo_training_accuracy": ("GRPO training accuracy, first vs last fifth of steps", "share"),
    "grpo_training_accuracy_standardised": (
        "GRPO training accuracy standardised over difficulty levels, first vs last fifth of steps",
        "share",
    ),
    "grpo_training_entropy": ("GRPO training entropy, first vs last fifth of steps", "nats"),
}
PROPERTY_LABEL = {
    "grpo_training_accuracy": "training accuracy (GRPO runs)",
    "grpo_training_accuracy_standardised": "training accuracy, level-standardised (GRPO runs)",
    "grpo_training_entropy": "training entropy (GRPO runs)",
    "sft_test_not_saturated": "test avg@n",
    "len_correct": "length, correct",
    "len_wrong": "length, wrong",
}
COUNT_FIELDS = {"prompts", "hard_prompts", "G", "runs", "hard_from_difficulty", "max_new_tokens", "seed"}


def property_kind(name: str) -> str:
    if name.startswith("success_level_"):
        return "share"
    return PROPERTY_TEXT.get(name, ("", ""))[1]


def property_value(name: str, field: str, v) -> str:
    if isinstance(v, bool) or v is None:
        return "–" if v is None else str(v)
    if isinstance(v, str):
        return v
    kind = property_kind(name)
    if field in COUNT_FIELDS:
        return num(v, 0)
    if kind == "share":
        return PERCENT.value(v)
    return {"tokens": lambda x: num(x, 1), "nats": lambda x: num(x, 3)}.get(kind, lambda x: num(x, 3))(v)


def target_text(target) -> str:
    """Targets of shares as percentages: "0.20-0.60" -> "20–60%", ">= 0.50" -> "≥ 50%"."""
    s = str(target)
    pct = re.sub(r"(?<![\d.])(0?\.\d+|1\.0+)(?![\d.])", lambda m: f"{float(m.group(1)) * 100:g}%", s)
    return pct.replace(">=", "≥").replace("<=", "≤").replace("%-", "–").replace("-", "–")


def property_label(name: str) -> str:
    if name in PROPERTY_LABEL:
        return PROPERTY_LABEL[name]
    if name.startswith("success_level_"):
        return f"success at difficulty {name.removeprefix('success_level_')}"
    return name.replace("_", " ")


def _met_cell(v) -> str:
    if v is None:
        return "<td class='muted'>–</td>"
    return "<td class='met'>met</td>" if v else "<td class='unmet'>not met</td>"


def split_property(data: Mapping) -> tuple[dict, str | None, object]:
    """(values by column, target, met) of one property's dict."""
    vals = {k: v for k, v in data.items() if k != "target" and not str(k).startswith("met")}
    met = next((v for k, v in data.items() if str(k).startswith("met")), None)
    return vals, data.get("target"), met


def task_properties_html(props: Mapping[str, Mapping], ev: pd.DataFrame | None = None,
                         labels: Labels | None = None) -> str:  # fmt: skip
    """One table: a row per property, its target, and per model size the models' values and met / not met
    (``{property: {model label: value, "target": ..., "met (...)": bool}}``); properties without models
    (protocol, trends, older files) go in a second table as field: value lists."""
    labels = labels or Labels()
    props = {k: dict(v) for k, v in props.items()}
    if ev is not None and len(ev):
        sft = eval_seed_values(ev, "avg@n", "test")
        for size, g in sft[sft["method"] == START_METHOD].groupby("size"):
            props.setdefault(size, {})["sft_test_not_saturated"] = {
                labels(START_METHOD): float(g["value"].mean())
            }
    if not props:
        return "<p class='muted'>No task properties given.</p>"
    sizes = size_order(props)
    models = list(dict.fromkeys(
        k for s in sizes for d in props[s].values() if isinstance(d, Mapping) and "target" in d
        for k in split_property(d)[0]
    ))  # fmt: skip
    models = [labels(START_METHOD)] + [m for m in models if m != labels(START_METHOD)]
    main, other = [], []
    seen = list(dict.fromkeys(n for s in sizes for n in props[s]))
    names = [n for n in PROPERTY_TEXT if n in seen] + [n for n in seen if n not in PROPERTY_TEXT]
    for name in names:
        entries = [props[s].get(name) for s in sizes]
        cols = {k for e in entries if isinstance(e, Mapping) for k in split_property(e)[0]}
        (main if cols and cols <= set(models) else other).append(name)
    out = []
    if main:
        out.append(_properties_main(props, sizes, models, main))
    if other:
        out.append(_properties_other(props, sizes, other))
    return "\n".join(out)


def _properties_main(props, sizes, models, names) -> str:
    top = "".join(f"<th colspan='{len(models) + 1}' class='grp'>model size {esc(s)}</th>" for s in sizes)
    sub = "".join("".join(f"<th>{esc(m)}</th>" for m in models) + "<th>target met</th>" for _ in sizes)
    rows = []
    for name in names:
        target = next((split_property(props[s][name])[1] for s in sizes if name in props[s]), None)
        cells = ""
        for s in sizes:
            vals, _, met = split_property(props[s].get(name) or {})
            cells += "".join(f"<td>{esc(property_value(name, m, vals.get(m)))}</td>" for m in models)
            cells += _met_cell(met) if target is not None else "<td class='muted'>–</td>"
        what = PROPERTY_TEXT.get(name, ("", ""))[0]
        rows.append(
            f"<tr><th>{esc(property_label(name))}<br><span class='muted'>{esc(what)}</span></th>"
            f"<td>{esc(target_text(target)) if target is not None else '–'}</td>{cells}</tr>"
        )
    cap = (
        "Task properties measured on the models' rollouts on the RL prompts "
        "(tables/task_properties_&lt;size&gt;.json); shares in percent, lengths in tokens, entropy in nats; "
        "<i>target met</i> is judged on the SFT start, "
        "where the regime must hold for a comparison to mean anything."
    )
    return (
        f"<table class='tbl props'><caption>{cap}</caption><thead><tr><th rowspan='2'>property</th>"
        f"<th rowspan='2'>target</th>{top}</tr><tr>{sub}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _properties_other(props, sizes, names) -> str:
    head = "".join(f"<th>model size {esc(s)}</th>" for s in sizes)
    rows = []
    for name in names:
        cells = ""
        for s in sizes:
            d = props[s].get(name)
            if not isinstance(d, Mapping):
                d = {} if d is None else {"value": d}
            vals, target, met = split_property(d)
            parts = [f"{k}: {property_value(name, str(k), v)}" for k, v in vals.items()]
            if target is not None:
                parts.append(
                    f"target {target_text(target)}"
                    + ("" if met is None else f" ({'met' if met else 'not met'})")
                )
            cells += f"<td>{esc('; '.join(parts)) or '–'}</td>"
        what = PROPERTY_TEXT.get(name, ("", ""))[0]
        rows.append(
            f"<tr><th>{esc(property_label(name))}<br><span class='muted'>{esc(what)}</span></th>{cells}</tr>"
        )
    cap = "Measurement protocol, training trends and further properties (same files)."
    return (
        f"<table class='tbl props'><caption>{cap}</caption><thead><tr><th>property</th>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def load_task_properties(paths: Sequence) -> dict[str, dict]:
    """label -> properties; the label is the size in ``task_properties_<size>.json``, else the file stem."""
    out: dict[str, dict] = {}
    for p in paths or []:
        p = Path(p)
        if not p.is_file():
            raise FileNotFoundError(f"{p}: task properties file not found")
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{p}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
        out[p.stem.removeprefix("task_properties_")] = data
    return out


# --------------------------------------------------------------------------------------------------
# tables from `rlvr tables`
# --------------------------------------------------------------------------------------------------
def clean_cell(v) -> str:
    """A display cell without "nan": "x ± nan" (one seed) -> "x", "nan" -> "–"."""
    s = re.sub(r"\s*±\s*nan\b", "", str(v))
    s = re.sub(r"\[\s*nan\s*,\s*nan\s*\]\s*", "", s).strip()
    return "–" if s.lower() in ("nan", "", "none") else s


def table_block(tables_dir: Path, manifest: dict, name: str, labels: Labels) -> str:
    entry = manifest.get(name)
    path = tables_dir / (entry["csv"] if entry else f"{name}.csv")
    if not path.is_file():
        return ""
    df = read_display_csv(path).map(clean_cell)
    df = df.loc[labels.order(df.index)]
    df.index = [labels(m) for m in df.index]
    df.index.name = "method"
    df.columns = (
        df.columns.map(column_label)
        if df.columns.nlevels == 1
        else pd.MultiIndex.from_tuples([(*c[:-1], column_label(c[-1])) for c in df.columns])
    )
    return to_html(df, labels.text(entry["caption"] if entry else name))


COLUMN_LABELS = {  # training-curve keys in tables/training_final: words and units
    "accuracy": "accuracy (%)",
    "reward": "reward",
    "entropy": "entropy (nats)",
    "completion_length": "length (tokens)",
    "clip_frac": "clipped share",
    "frac_zero_std": "groups with equal rewards",
    "step_time": "step time (s)",
}


def column_label(name) -> str:
    name = str(name)
    return COLUMN_LABELS.get(name, name.replace("_", " "))


MAIN_TABLES = ["head_to_head", f"paired_vs_{REFERENCE}", "passk_decomposition", "training_final"]


def tables_html(tables_dir: Path, labels: Labels) -> str:
    """The main tables in the page; the per-metric method × size tables (the head-to-head's cells
    regrouped) collapsed beneath them and left out of print."""
    manifest_path = tables_dir / "tables.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.is_file() else {}
    main = [
        b for b in (table_block(tables_dir, manifest, n, labels) for n in MAIN_TABLES if n in manifest) if b
    ]
    more = [
        b
        for b in (table_block(tables_dir, manifest, n, labels) for n in manifest if n not in MAIN_TABLES)
        if b
    ]
    out = main or ["<p class='muted'>No tables were produced (no data).</p>"]
    if more:
        out.append(
            f"<details class='more-tables'><summary>{len(more)} further tables: each metric and split as "
            f"method × model size (CSV, Markdown and LaTeX in tables/)</summary>{''.join(more)}</details>"
        )
    return "\n".join(out)


# --------------------------------------------------------------------------------------------------
# graded samples
# --------------------------------------------------------------------------------------------------
SAMPLES_PER_METHOD = 2  # one right and one wrong when both exist; every run keeps more in samples.jsonl
PROMPT_TAIL, COMPLETION_TAIL = 160, 320  # characters shown; the problem and the answer sit at the end


def default_sample_files(tables_dir) -> list[Path]:
    """The runs' ``samples.jsonl`` (`rlvr eval`), found from the tables directory:
    ``<exp>/eval/*/*/seed*/``."""
    return sorted((Path(tables_dir).parent / "eval").glob("*/*/seed*/samples.jsonl"))


def load_samples(paths: Sequence) -> list[list[dict]]:
    """One list of graded completions per file, in file order."""
    out = []
    for path in paths:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        out.append([json.loads(line) for line in lines if line.strip()])
    return out


def pick_graded(per_file: list[list[dict]], k: int = SAMPLES_PER_METHOD) -> list[dict]:
    """Up to `k` completions across runs (round robin over the files), half right and half wrong when
    both exist, as `evaluate.pick_samples` chooses within a run."""
    order = [f[i] for i in range(max(map(len, per_file), default=0)) for f in per_file if i < len(f)]
    right = [s for s in order if s["reward"] > 0]
    wrong = [s for s in order if not s["reward"] > 0]
    n_right = min(len(right), max(k - len(wrong), (k + 1) // 2))
    return right[:n_right] + wrong[: k - n_right]


def _tail(text, n: int) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= n else "\u2026" + text[-n:]


def sample_row(s: Mapping, method_label: str | None, span: int) -> str:
    where = (
        s.get("size", ""),
        f"seed {s.get('seed', '')}",
        s.get("split", ""),
        f"#{s.get('problem_id', '')}",
    )
    run = " · ".join(map(str, where))
    reward = float(s["reward"])
    wrap = esc(method_label or "").replace("+", "+<wbr>")  # "ADORA+ETR+Guide" may break after a "+"
    head = f"<th rowspan='{span}'>{wrap}</th>" if method_label is not None else ""
    extracted = "(none)" if s.get("extracted") is None else str(s["extracted"])
    return (
        f"<tr>{head}<td><span class='muted'>{esc(run)}</span>"
        f"<pre>{esc(_tail(s.get('prompt'), PROMPT_TAIL))}</pre></td>"
        f"<td><pre>{esc(_tail(s.get('completion'), COMPLETION_TAIL))}</pre></td>"
        f"<td>{esc(extracted)}</td><td>{esc(str(s.get('gold', '')))}</td>"
        f"<td class='{'met' if reward > 0 else 'unmet'}'>{reward:g}</td></tr>"
    )


def graded_samples_html(per_file: list[list[dict]], labels: Labels | None = None,
                        k: int = SAMPLES_PER_METHOD) -> str:  # fmt: skip
    """Per method (config order), `pick_graded`'s completions: the ends of prompt and completion, what the
    grader extracted, the gold answer and the reward. All text is HTML-escaped."""
    labels = labels or Labels()
    by_method: dict[str, list[list[dict]]] = {}
    for f in per_file:
        for m in dict.fromkeys(str(s.get("method", "?")) for s in f):
            by_method.setdefault(m, []).append([s for s in f if str(s.get("method", "?")) == m])
    if not by_method:
        return "<p class='muted'>No samples.jsonl files found.</p>"
    rows = []
    for m in labels.order(by_method):
        chosen = pick_graded(by_method[m], k)
        for i, s in enumerate(chosen):
            rows.append(sample_row(s, labels(m) if i == 0 else None, len(chosen)))
    saved = sum(map(len, per_file))
    cap = (
        f"Up to {k} graded completions per method (one right, one wrong when both exist) of the {saved} "
        f"saved by {len(per_file)} runs in samples.jsonl; prompt and completion show their last characters."
    )
    head = ["method", "run and prompt (end)", "completion (end)", "extracted", "gold", "reward"]
    return html_table("tbl samples", cap, head, rows)


# --------------------------------------------------------------------------------------------------
# configuration and provenance (collapsed at the end)
# --------------------------------------------------------------------------------------------------
def _kv_table(items: Sequence[tuple[str, str]], caption: str = "", cls: str = "tbl kv") -> str:
    rows = "".join(f"<tr><th>{esc(str(k))}</th><td>{esc(str(v))}</td></tr>" for k, v in items)
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return f'<table class="{cls}">{cap}<tbody>{rows}</tbody></table>'


def _flatten(d, prefix: str = "") -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []
    if isinstance(d, Mapping):
        for k, v in d.items():
            items += _flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(d, list) and all(not isinstance(x, (dict, list)) for x in d):
        items.append((prefix, ", ".join(map(str, d))))
    elif isinstance(d, list):
        for i, v in enumerate(d):
            items += _flatten(v, f"{prefix}[{i}]")
    else:
        items.append((prefix, _fmt_scalar(d)))
    return items


def _fmt_scalar(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}" if math.isfinite(v) else "–"
    return str(v)


def load_provenance(paths: Sequence) -> list[dict]:
    out = []
    for p in paths or []:
        p = Path(p)
        if not p.is_file():
            raise FileNotFoundError(f"{p}: provenance file not found")
        try:
            out.append(json.loads(p.read_text(encoding="utf-8")))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{p}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    return out


def runs_table_html(curves: pd.DataFrame, ev: pd.DataFrame, labels: Labels) -> str:
    src = ev if len(ev) else curves
    if not len(src):
        return ""
    sizes, methods = size_order(src["size"]), labels.order(src["method"])
    steps = curves.groupby(["size", "method"])["step"].agg(["min", "max"]) if len(curves) else None
    seeds = src.groupby(["size", "method"])["seed"].nunique()
    rows = []
    for m in methods:
        cells = []
        for s in sizes:
            txt = f"{int(seeds[(s, m)])} seeds" if (s, m) in seeds.index else "–"
            if steps is not None and (s, m) in steps.index:
                txt += f" · steps {int(steps.loc[(s, m), 'min'])}–{int(steps.loc[(s, m), 'max'])}"
            cells.append(f"<td>{esc(txt)}</td>")
        rows.append(f"<tr><th>{esc(labels(m))}</th>{''.join(cells)}</tr>")
    head = "".join(f"<th>{esc(s)}</th>" for s in sizes)
    return (
        "<table class='tbl'><caption>Runs: seeds per method and model size (training steps logged)</caption>"
        f"<thead><tr><th>method</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def eval_settings_html(ev: pd.DataFrame, problems: pd.DataFrame) -> str:
    if not len(ev):
        return ""
    nprob = problem_counts(problems)
    items = []
    for (split, metric), g in ev.groupby(["split", "metric"]):
        extra = ""
        if metric == "pass@k":
            extra = f"; k ∈ {{{', '.join(str(int(k)) for k in sorted(g['k'].dropna().unique()))}}}"
        if metric == "acc_by_difficulty":
            extra = f"; levels {', '.join(sorted(g['difficulty'].dropna().astype(str).unique()))}"
        items.append((
            f"{split} · {metric}",
            f"n={_span(g['n'].tolist())} samples, temperature {_span(g['temperature'].tolist())}{extra}; "
            f"problems: {nprob.get(split, '?')}",
        ))  # fmt: skip
    return _kv_table(items, "Evaluation settings (from eval.csv and problems.csv)")


def provenance_html(provs: list[dict]) -> str:
    if not provs:
        return "<p class='muted'>No provenance given.</p>"
    commits: dict[str, int] = {}
    for p in provs:
        key = f"{p.get('git_commit', '?')}{' (dirty)' if p.get('git_dirty') else ''}"
        commits[key] = commits.get(key, 0) + 1
    created = sorted(str(p.get("created", "?")) for p in provs)
    items = [
        ("git commit", "; ".join(f"{k} ×{v}" if len(commits) > 1 else k for k, v in commits.items())),
        ("hardware", "; ".join(sorted({str(p.get("hardware", "?")) for p in provs}))),
        ("created", created[0] if len(created) == 1 else f"{created[0]} … {created[-1]}"),
        ("provenance files", str(len(provs))),
    ]
    if any(p.get("git_dirty") for p in provs):
        items.append(("warning", "at least one run came from a working tree with uncommitted changes"))
    out = [_kv_table(items, "Provenance")]
    versions: dict[str, set] = {}
    for p in provs:
        for k, v in (p.get("versions") or {}).items():
            versions.setdefault(k, set()).add(str(v))
    if versions:
        out.append(
            _kv_table([(k, " / ".join(sorted(v))) for k, v in sorted(versions.items())], "Package versions")
        )
    return "\n".join(out)


def config_html(provs: list[dict]) -> str:
    flats = [dict(_flatten(p.get("config") or {})) for p in provs]
    if not flats or not any(flats):
        return ""
    keys = list(dict.fromkeys(k for f in flats for k in f))
    shared = [(k, flats[0][k]) for k in keys if all(k in f and f[k] == flats[0][k] for f in flats)]
    differ = [k for k in keys if (k, flats[0].get(k)) not in shared]
    cap = f"Full configuration: {len(shared)} keys shared by every run"
    if differ:
        cap += f"; {len(differ)} differ between runs: {', '.join(differ[:30])}"
    return (
        f"<details class='config'><summary>{esc(cap)}</summary>{_kv_table(shared)}</details>"
        "<p class='print-only muted'>The full configuration is left out of print: see provenance.json.</p>"
    )


def appendix_html(provs, curves, ev, problems, labels: Labels, wall: Mapping) -> str:
    inner = [runs_table_html(curves, ev, labels), eval_settings_html(ev, problems), provenance_html(provs)]
    if wall:
        inner.append(_kv_table(_flatten(wall), "Wall times (wall_times.json)"))
    return (
        "<details class='provenance'><summary>Runs, evaluation settings, provenance and package versions"
        f"</summary>{''.join(inner)}</details>{config_html(provs)}"
    )


# --------------------------------------------------------------------------------------------------
# page: CSS, template, table of contents
# --------------------------------------------------------------------------------------------------
CSS = """
:root{--fg:#1d232a;--muted:#5b6470;--line:#d9dde3;--head:#f3f5f8;--accent:#1f5fa8}
*{box-sizing:border-box}
body{font:15px/1.5 -apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;color:var(--fg)}
main{max-width:1180px;margin:0 auto;padding:1.2em 2em 3em}
h1{font-size:1.65em;line-height:1.25;margin:.3em 0 .4em}
h2{font-size:1.3em;border-bottom:1px solid var(--line);padding-bottom:.15em;margin:1.6em 0 .5em}
h3{font-size:1.08em;margin:1.3em 0 .3em}
h2 .secno{color:var(--muted);margin-right:.4em}
a{color:var(--accent);text-decoration:none}
p{margin:.45em 0}
.abstract{background:#f7f9fb;border-left:3px solid var(--accent);padding:.6em 1em;margin:.4em 0 .6em}
.abstract p{margin:.3em 0}
.front{display:flex;flex-wrap:wrap;gap:0 3em;align-items:flex-start}
nav.toc{font-size:.9em;margin:.6em 0 .4em}
nav.toc ol{margin:.2em 0;padding-left:1.6em}
nav.toc li{break-inside:avoid}
.lead{margin:.1em 0 .3em}
.muted{color:var(--muted);font-size:.9em}
.tag{font-size:.75em;border:1px solid var(--muted);border-radius:.5em;padding:0 .35em;color:var(--muted)}
code{background:#f1f3f5;padding:0 .25em;border-radius:3px;font-size:.85em}
table.tbl{border-collapse:collapse;margin:.6em 0 1em;font-size:.84em;width:auto;max-width:100%}
table.tbl th,table.tbl td{border-top:1px solid var(--line);padding:.3em .55em;text-align:left}
table.tbl th,table.tbl td{vertical-align:top}
table.tbl thead th{border-bottom:2px solid #555;background:var(--head);font-weight:600}
table.tbl thead th.grp{text-align:center;border-bottom:1px solid var(--line)}
table.tbl caption{caption-side:bottom;text-align:left;color:var(--muted);font-size:.92em;padding-top:.35em}
table.summary td{text-align:right}
table.claims{width:100%;table-layout:fixed;font-size:.82em}
table.claims col.c-claim{width:29%}table.claims col.c-pub{width:14%}table.claims col.c-size{width:6%}
table.claims col.c-ours{width:18%}table.claims col.c-verdict{width:14%}table.claims col.c-why{width:19%}
table.claims tbody.claim-group{border-top:2px solid #9aa3ad}
table.claims p{margin:0 0 .25em}
table.claims p.claim{font-weight:500}
table.props th{font-weight:normal}
table.props tbody th{min-width:16em}
td.met{color:#155724;font-weight:600}td.unmet{color:#8a1c24;font-weight:600}
.badge{display:inline-block;padding:.05em .5em;border-radius:.7em;font-size:.85em;white-space:nowrap}
.v-rep{background:#d4edda;color:#155724}.v-con{background:#f8d7da;color:#721c24}
.v-inc{background:#fff3cd;color:#7a5c00}.v-nr{background:#e2e3e5;color:#383d41}
.figs{display:flex;flex-wrap:wrap;gap:0 1.6em;align-items:flex-start}
figure{margin:.6em 0 1.4em;min-width:0}
figure img{display:block;width:100%;height:auto;border:1px solid #eee}
figcaption{color:#333;font-size:.86em;margin-top:.35em}
table.samples{width:100%;table-layout:fixed}
table.samples td,table.samples th{overflow-wrap:break-word}
table.samples th:nth-child(1){width:13%}table.samples th:nth-child(2){width:25%}
table.samples th:nth-child(3){width:40%}table.samples th:nth-child(4),table.samples th:nth-child(5){width:8%}
table.samples th:nth-child(6){width:6%}
pre{white-space:pre-wrap;word-break:break-word;margin:.2em 0;font-size:.92em;background:#f7f7f8;padding:.3em}
details{margin:.5em 0}
details summary{cursor:pointer;color:#333}
details.notrun{font-size:.88em}details.notrun ul{margin:.3em 0;padding-left:1.4em}
.print-only{display:none}
@media print{
  @page{size:A4;margin:12mm 11mm}
  body{font-size:9.5pt;-webkit-print-color-adjust:exact;print-color-adjust:exact}
  main{max-width:none;padding:0}
  a{color:inherit}
  h2,h3{break-after:avoid}
  table.tbl{font-size:7.8pt;break-inside:auto}
  thead{display:table-header-group}
  tr,tbody.claim-group,figure,img,pre{break-inside:avoid}
  figure img{max-height:23cm;object-fit:contain}
  caption{break-before:avoid}
  details.provenance::details-content,details.notrun::details-content{content-visibility:visible}
  details.provenance::details-content,details.notrun::details-content{display:block}
  details.provenance>summary,details.notrun>summary{list-style:none;font-weight:600}
  details.config,details.more-tables{display:none}
  .print-only{display:block}
}
"""

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")


def _inline_md(text: str) -> str:
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", text)
    return re.sub(r"(?<![*\w])\*([^*]+)\*(?!\w)", r"<em>\1</em>", text)


def minimal_markdown(text: str) -> str:
    """Headings, bullet lists and paragraphs: enough for the report template without dependencies."""
    out, para, items = [], [], []

    def flush():
        if para:
            out.append(f"<p>{_inline_md(' '.join(para))}</p>")
            para.clear()
        if items:
            out.append("<ul>" + "".join(f"<li>{_inline_md(i)}</li>" for i in items) + "</ul>")
            items.clear()

    for line in text.splitlines():
        s = line.strip()
        m = re.match(r"^(#{1,6})\s+(.*)$", s)
        if not s:
            flush()
        elif re.match(r"^</?div\b", s):  # raw HTML wrapper lines (the abstract box)
            flush()
            out.append(re.sub(r'\s+markdown="1"', "", s))
        elif m:
            flush()
            n = len(m.group(1))
            out.append(f"<h{n}>{_inline_md(m.group(2))}</h{n}>")
        elif re.match(r"^[-*]\s+", s):
            if para:
                flush()
            items.append(re.sub(r"^[-*]\s+", "", s))
        elif items and line.startswith("  "):
            items[-1] += " " + s
        else:
            para.append(s)
    flush()
    return "\n".join(out)


def markdown_to_html(text: str) -> str:
    try:
        import markdown  # optional; present in the venv as a dependency of tensorboard
    except ImportError:
        log("python-markdown not importable; using the built-in minimal converter")
        return minimal_markdown(text)
    return markdown.markdown(text, extensions=["md_in_html"])


def render_template(template: str, blocks: Mapping[str, str], inline: Mapping[str, str]) -> str:
    tokens: dict[str, str] = {}

    def sub(m: re.Match) -> str:
        name = m.group(1)
        if name in inline:
            return esc(str(inline[name]))
        if name in blocks:
            tok = f"RLVRBLOCK{len(tokens)}X"
            tokens[tok] = blocks[name]
            return f"\n\n{tok}\n\n"
        log(f"warning: template placeholder {{{{{name}}}}} has no value")
        return f"[missing: {name}]"

    body = markdown_to_html(PLACEHOLDER.sub(sub, template))
    for tok, block in tokens.items():
        body = body.replace(f"<p>{tok}</p>", block).replace(tok, block)
    return body


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", re.sub(r"<[^>]+>", "", text).lower()).strip("-") or "section"


TOC_TOKEN = "<!--rlvr:toc-->"


def number_sections(body: str) -> tuple[str, str]:
    """Numbers the ``<h2>`` headings, gives them ids and returns (body, table of contents)."""
    entries: list[tuple[str, str]] = []

    def sub(m: re.Match) -> str:
        text = m.group(1)
        slug = f"s-{_slug(text)}"
        entries.append((slug, text))
        return f"<h2 id='{slug}'><span class='secno'>{len(entries)}</span>{text}</h2>"

    body = re.sub(r"<h2>(.*?)</h2>", sub, body)
    items = "".join(f"<li><a href='#{slug}'>{text}</a></li>" for slug, text in entries)
    return body, f"<nav class='toc' aria-label='Contents'><b>Contents</b><ol>{items}</ol></nav>"


def build_html(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{esc(title)}</title>'
        f"<style>{CSS}</style></head><body><main>\n{body}\n</main></body></html>\n"
    )


def try_pdf(html_path: Path) -> None:
    pandoc = shutil.which("pandoc")
    engines = [e for e in ("wkhtmltopdf", "weasyprint", "pdflatex", "xelatex") if shutil.which(e)]
    if not pandoc or not engines:
        log(
            "PDF skipped: "
            + ("pandoc" if not pandoc else "a PDF engine (wkhtmltopdf/weasyprint/LaTeX)")
            + " not found (a browser's print to PDF uses the page's print CSS)"
        )
        return
    pdf = html_path.with_suffix(".pdf")
    cmd = [pandoc, str(html_path), "-o", str(pdf), f"--pdf-engine={engines[0]}"]
    try:
        subprocess.run(cmd, check=True, capture_output=True, timeout=300)
        log(f"wrote {pdf}")
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        log(f"PDF skipped: pandoc failed ({exc})")


# --------------------------------------------------------------------------------------------------
# driver
# --------------------------------------------------------------------------------------------------
def experiment_words(ev: pd.DataFrame, curves: pd.DataFrame, labels: Labels) -> str:
    src = ev if len(ev) else curves
    if not len(src):
        return "no runs found"
    sizes = ", ".join(size_order(src["size"]))
    seeds = _span(src.groupby(["size", "method"])["seed"].nunique().tolist())
    methods = ", ".join(labels(m) for m in labels.order(src["method"]) if m != START_METHOD)
    return f"model size{'s' if ',' in sizes else ''} {sizes}; {seeds} seeds per method; methods {methods}"


def inline_values(doc: dict, results: pd.DataFrame, exps: list[str], extra: Mapping[str, str]) -> dict:
    n = verdict_counts(results, doc["claims"])
    rule = doc.get("verdict_rule", {})
    level = float(rule.get("level", stats.DEFAULT_LEVEL))
    n_eval = sum(n[v] for v in (stats.REPRODUCED, stats.CONTRADICTED, stats.INCONCLUSIVE))
    return {
        "exp": ", ".join(exps) or "?",
        "n_claims": str(n["claims"]),
        "n_claims_tested": str(n["claims_tested"]),
        "n_claims_not_run": str(n["not_run"]),
        "n_rows": str(sum(n[v] for v in EVALUATED)),
        "n_reproduced": str(n[stats.REPRODUCED]),
        "n_contradicted": str(n[stats.CONTRADICTED]),
        "n_inconclusive": str(n[stats.INCONCLUSIVE]),
        "n_descriptive": str(n[stats.DESCRIPTIVE]),
        "exploratory_note": (
            f"; {n['exploratory']} exploratory "
            + ("row is" if n["exploratory"] == 1 else "rows are")
            + " reported apart"
            if n["exploratory"]
            else ""
        ),
        "n_tested": str(n["tested"]),
        "n_survive_holm": str(n["holm"]),
        "n_survive_bh": str(n["bh"]),
        "n_evaluated": str(n_eval),
        "level": f"{level:.0%}",
        "chance_expected": f"{n_eval * (1 - level) / 2:.1f}",
    } | dict(extra)


def make_report(args: argparse.Namespace) -> list[Path]:
    doc = load_claims(args.claims)
    data_dir = Path(args.data_dir or args.tables_dir)
    curves = read_curves(args.curves or data_dir / "curves.csv")
    ev = read_eval(args.eval or data_dir / "eval.csv")
    problems = read_problems(args.problems or data_dir / "problems.csv")
    if ev.empty and curves.empty:
        log(f"warning: no curves.csv/eval.csv data found under {data_dir}")
    experiments = [experiment_from_json(args.experiment)] if args.experiment else None
    results = evaluate_claims(doc, Data(curves, ev, problems), experiments)

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    claims_csv = out.parent / "claims.csv"
    results.to_csv(claims_csv, index=False)

    provs = load_provenance(args.provenance)
    labels = resolve_labels(args.labels, provs)
    wall = {}
    if args.wall_times and Path(args.wall_times).is_file():
        wall = json.loads(Path(args.wall_times).read_text(encoding="utf-8"))
    tables_dir, fig_dir = Path(args.tables_dir), Path(args.figures_dir)
    level = float(doc.get("verdict_rule", {}).get("level", stats.DEFAULT_LEVEL))
    present = {
        str(m) for df in (ev, curves, problems) if "method" in df.columns for m in df["method"].dropna()
    }
    figs = plan_figures(doc, fig_dir, present)
    pc = positive_control(ev, level=level)
    exps = sorted({str(x) for df in (ev, curves) if "exp" in df.columns for x in df["exp"].dropna()})
    samples = default_sample_files(tables_dir) if args.samples is None else args.samples
    blocks: dict[str, str] = {
        "front": f"<div class='front'>{summary_html(doc, results)}{TOC_TOKEN}</div>",
        "claims_by_paper": claims_by_paper_html(doc, results, labels, claim_figure_refs(figs)),
        "verdict_rule": f"<p>{esc(str(doc.get('verdict_rule', {}).get('statement', 'stats.verdict')))}</p>",
        "positive_control": positive_control_html(pc, labels),
        "figures": figures_html(doc, figs, labels, present),
        "task_properties": task_properties_html(load_task_properties(args.task_properties), ev, labels),
        "tables": tables_html(tables_dir, labels),
        "graded_samples": graded_samples_html(load_samples(samples), labels),
        "published_settings": "<ul>" + "".join(
            f"<li><b>{esc(str(v.get('name', k)))}</b>: {esc(str(v.get('setting', '')))}</li>"
            for k, v in doc.get("papers", {}).items() if v.get("arxiv")
        ) + "</ul>",
        "appendix": appendix_html(provs, curves, ev, problems, labels, wall),
    }  # fmt: skip
    inline = inline_values(doc, results, exps, {
        "claims_file": Path(args.claims).name,
        "experiment": experiment_words(ev, curves, labels),
        "positive_control_sentence": positive_control_sentence(pc, labels),
        "n_figures": str(len(figs)),
    })  # fmt: skip
    body = render_template(Path(args.template).read_text(encoding="utf-8"), blocks, inline)
    body, toc = number_sections(body)
    body = body.replace(f"<p>{TOC_TOKEN}</p>", toc).replace(TOC_TOKEN, toc)
    out.write_text(build_html(f"RLVR reproduction report: {inline['exp']}", body), encoding="utf-8")
    log(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB) and {claims_csv}")
    try_pdf(out)
    return [out, claims_csv]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rlvr report", description=__doc__.split("\n\n")[0])
    p.add_argument("--claims", required=True, help="paper/claims.yaml")
    p.add_argument("--tables-dir", required=True, help="output of `rlvr tables` (tables.json, *.csv)")
    p.add_argument("--figures-dir", required=True, help="output of `rlvr figures` (<paper>/<name>.png)")
    p.add_argument("--provenance", nargs="*", default=[], help="provenance.json file(s)")
    p.add_argument(
        "--task-properties", nargs="*", default=[], help="task_properties[_<size>].json file(s), one per size"
    )
    p.add_argument("--wall-times", default=None, help="wall_times.json (optional)")
    p.add_argument("--template", required=True, help="paper/report.md.tmpl")
    p.add_argument("--out", required=True, help="report.html path; claims.csv is written beside it")
    p.add_argument(
        "--labels",
        type=json.loads,
        default=None,
        help="JSON [[method, label], ...] (default: the provenance config's method blocks' `label:`)",
    )
    p.add_argument(
        "--data-dir", default=None, help="dir with curves.csv, eval.csv, problems.csv (default: --tables-dir)"
    )
    p.add_argument(
        "--experiment",
        default=None,
        help="JSON (or a JSON file) {name, source, splits, runs: [[size, method, seed], ...]}: what the "
        "experiment trains and evaluates, so a missing method or split is an error "
        "(default: read from the data)",
    )
    p.add_argument("--curves", default=None)
    p.add_argument("--eval", default=None)
    p.add_argument("--problems", default=None)
    p.add_argument(
        "--samples",
        nargs="*",
        default=None,
        help="runs' samples.jsonl (default: <tables-dir>/../eval/*/*/seed*/samples.jsonl)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        paths = make_report(args)
    except (ClaimsError, FileNotFoundError, ValueError) as exc:
        print(f"[report] error: {exc}", file=sys.stderr)
        return 2
    for p in paths:
        print(p)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
