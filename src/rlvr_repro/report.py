"""Render the claims (evaluated by ``claims.py``), tables and figures as a self-contained HTML report.

CLI::

    rlvr report --claims paper/claims.yaml --tables-dir T --figures-dir F --provenance P [P ...]
                --task-properties TP [TP ...] --template paper/report.md.tmpl --out results/<exp>/report/report.html
                [--data-dir D] [--curves C] [--eval E] [--problems PR] [--wall-times W] [--experiment JSON]

* ``--data-dir`` holds the aggregated ``curves.csv``, ``eval.csv``, ``problems.csv`` (default: the tables
  directory); ``--curves/--eval/--problems`` override single files.
* Writes ``report.html`` (figures embedded as base64 PNG, CSS inline, no external assets) and
  ``claims.csv`` beside it (one row per claim and model size, with the verdict).
* Claims are evaluated by ``rlvr_repro.claims`` (one function per test kind); this module renders them.
  ``--experiment`` describes what the experiment trains and evaluates: a claim whose methods it does not
  train is "not run", one whose methods or benchmark splits are missing from the data is an error.
* The template is Markdown with ``{{placeholder}}`` slots (converted with the ``markdown`` package when it
  is importable, else with a minimal built-in converter). Every number in the report comes from the
  input files.
* PDF: only when ``pandoc`` and a PDF engine are on PATH; otherwise a log line says it was skipped.
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import math
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from rlvr_repro import stats
from rlvr_repro.aggregate import (
    eval_seed_values,
    method_order,
    read_curves,
    read_eval,
    read_problems,
    size_order,
)
from rlvr_repro.claims import (  # noqa: F401 - re-exported: report.load_claims, report.ClaimsError
    ClaimsError,
    Data,
    evaluate_claims,
    experiment_from_json,
    load_claims,
)
from rlvr_repro.figures import FIGURE_NAMES
from rlvr_repro.tables import _span, metric_scale, problem_counts, read_display_csv, to_html


def log(msg: str) -> None:
    print(f"[report] {msg}", file=sys.stderr)


# --------------------------------------------------------------------------------------------------
# HTML pieces
# --------------------------------------------------------------------------------------------------
esc = html.escape


def _display(claim_test: dict) -> tuple[float, int, str]:
    kind = claim_test["kind"]
    if kind in ("problem_pass1", "decomposition", "decomposition_part"):
        return 100.0, 1, "pts"
    if kind == "steps_to_target":
        return 1.0, 1, "steps"
    metric = claim_test.get("metric", "")
    if metric == "entropy":
        return 1.0, 3, "nats"
    if metric.startswith("mean_length"):
        return 1.0, 1, "tokens"
    scale, dec, unit = metric_scale(metric)
    return scale, dec, "pts" if unit == "%" else unit


def _f(x, scale: float, dec: int, sign: bool = False) -> str:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "–"
    if not math.isfinite(x):
        return "nan"
    return f"{x * scale:+.{dec}f}" if sign else f"{x * scale:.{dec}f}"


def _evaluated(row: Mapping) -> bool:
    return row["verdict"] not in (stats.NOT_RUN, stats.NOT_MEASURED) and row["size"] != "(all models)"


def ours_cell(row: Mapping, test: dict) -> str:
    if not _evaluated(row):
        return "–"
    scale, dec, unit = _display(test)
    units = "problems" if row["unit"] == "problem" else "seeds"
    seeds = f", {int(row['n_seeds'])} seeds" if row["unit"] == "problem" else ""
    return (
        f"{_f(row['method_value'], scale, dec)} vs {_f(row['baseline_value'], scale, dec)}; "
        f"Δ {_f(row['diff'], scale, dec, True)} {unit} [{_f(row['lo'], scale, dec, True)}, "
        f"{_f(row['hi'], scale, dec, True)}] (n={int(row['n'])} {units}{seeds})"
    )


def power_cell(row: Mapping, test: dict) -> str:
    """MDE (and its quantiles), the reading of an inconclusive row, the published comparison."""
    if not _evaluated(row):
        return "–"
    scale, dec, unit = _display(test)
    parts = [f"MDE {_f(row['mde'], scale, dec)} {unit} ({row['mde_method']})"]
    if row["reading"] == "underpowered":
        parts.append(f"underpowered (half-width {_f(row['reading_value'], scale, dec)} {unit})")
    elif row["reading"]:
        parts.append(f"no effect larger than {_f(row['reading_value'], scale, dec)} {unit}")
    pub = row.get("published_effect")
    if pub is not None and isinstance(pub, float) and math.isfinite(pub):
        parts.append(f"published Δ {_f(pub, scale, dec, True)} {unit}: {row['published_check']}")
    return "; ".join(parts)


def holm_mark(row: Mapping) -> str:
    if row.get("holm") in ("survives", "does not survive"):
        n = int(row["n_family"])
        return f"<br><span class='muted'>Holm ({n} tested): {esc(str(row['holm']))}; BH: {esc(str(row['bh']))}</span>"
    return ""


def verdict_badge(v: str) -> str:
    cls = {"reproduced": "v-rep", "contradicted": "v-con", "inconclusive": "v-inc"}.get(v, "v-nr")
    return f'<span class="badge {cls}">{esc(v)}</span>'


def _direction_words(t: dict) -> str:
    return {"greater": "&gt; 0", "less": "&lt; 0", "equivalent": "≈ 0 (equivalence margin)"}[t["direction"]]


def claims_table_html(claims: list[dict], results: pd.DataFrame) -> str:
    out = [
        '<table class="tbl claims"><thead><tr><th>claim</th><th>published</th><th>test</th><th>size</th>'
        "<th>ours: method vs comparison; Δ [95% CI] (n)</th><th>verdict</th><th>power, magnitude</th>"
        "</tr></thead><tbody>"
    ]
    for c in claims:
        rows = results[results["claim_id"] == c["id"]]
        t = c["test"]
        cmp_ = f"{t['comparison']['method']} − {t['comparison']['baseline']}"
        roles = ", ".join(sorted({f"{r['role']} = {r['splits']}" for _, r in rows.iterrows() if r["role"]}))
        test = (
            f"{esc(str(t['statistic']))}<br><span class='muted'>{esc(cmp_)}, claimed {_direction_words(t)}; "
            f"unit: {esc(t['unit'])}{'; ' + esc(roles) if roles else ''}</span>"
        )
        tag = " <span class='muted'>(exploratory)</span>" if c.get("exploratory") else ""
        claim_cell = (
            f"<b>{esc(c['id'])}</b>{tag}<br>{esc(str(c['paraphrase']))}"
            f"<br><span class='muted'>{esc(str(c['source']))}</span>"
        )
        span = max(1, len(rows))
        first = True
        for _, r in rows.iterrows():
            cells = ""
            if first:
                cells += f'<td rowspan="{span}">{claim_cell}</td><td rowspan="{span}">{esc(str(c["published"]))}</td>'
                cells += f'<td rowspan="{span}">{test}</td>'
            size = esc(str(r["size"])) if r["size"] else "–"
            note = f"<br><span class='muted'>{esc(str(r['note']))}</span>" if not _evaluated(r) else ""
            cells += (
                f"<td>{size}</td><td>{esc(ours_cell(r, t))}{note}</td>"
                f"<td>{verdict_badge(r['verdict'])}{holm_mark(r)}</td><td>{esc(power_cell(r, t))}</td>"
            )
            out.append(f"<tr>{cells}</tr>")
            first = False
    out.append("</tbody></table>")
    return "\n".join(out)


def summary_html(doc: dict, results: pd.DataFrame) -> str:
    verdicts = list(stats.VERDICTS)
    papers = list(doc.get("papers", {})) or sorted(results["paper"].unique())
    out = [
        '<table class="tbl"><caption>Verdicts per claim × model size (exploratory claims counted separately); '
        "tested: confirmatory rows with a p-value, the family of the Holm correction; the last column counts "
        "the reproduced or contradicted verdicts that survive it</caption><thead><tr><th>paper</th>"
        + "".join(f"<th>{verdict_badge(v)}</th>" for v in verdicts)
        + "<th>exploratory</th><th>tested</th><th>survive Holm</th></tr></thead><tbody>"
    ]
    for p in papers:
        r = results[(results["paper"] == p) & (results["size"] != "(all models)")]
        main = r[~r["exploratory"].astype(bool)]
        expl = r[r["exploratory"].astype(bool)]
        cells = "".join(f"<td>{int((main['verdict'] == v).sum())}</td>" for v in verdicts)
        ex = ", ".join(
            f"{v}: {int((expl['verdict'] == v).sum())}" for v in verdicts if (expl["verdict"] == v).any()
        )
        tested = int(pd.to_numeric(main["n_family"], errors="coerce").notna().sum())
        survive = int((main["holm"] == "survives").sum())
        name = doc.get("papers", {}).get(p, {}).get("name", p)
        out.append(
            f"<tr><th>{esc(str(name))}</th>{cells}<td>{esc(ex) or '–'}</td><td>{tested}</td><td>{survive}</td></tr>"
        )
    out.append("</tbody></table>")
    return "\n".join(out)


def papers_html(doc: dict, results: pd.DataFrame) -> str:
    out = []
    papers = doc.get("papers", {})
    order = list(papers) + sorted({c["paper"] for c in doc["claims"]} - set(papers))
    for p in order:
        claims = [c for c in doc["claims"] if c["paper"] == p]
        if not claims:
            continue
        info = papers.get(p, {})
        arxiv = f" (arXiv {esc(str(info['arxiv']))})" if info.get("arxiv") else ""
        out.append(f"<h3>{esc(str(info.get('name', p)))}{arxiv}</h3>")
        if info.get("summary"):
            out.append(f"<p>{esc(str(info['summary']))}.</p>")
        if info.get("setting"):
            out.append(f"<p class='muted'>Published setting: {esc(str(info['setting']))}</p>")
        out.append(claims_table_html(claims, results))
    return "\n".join(out)


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
        return f"{v:.4g}"
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


def setup_html(provs: list[dict], curves: pd.DataFrame, ev: pd.DataFrame, problems: pd.DataFrame) -> str:
    out = []
    # runs present
    src = ev if len(ev) else curves
    if len(src):
        sizes = size_order(src["size"])
        methods = method_order(src["method"])
        steps = (
            curves.groupby(["size", "method"])["step"].agg(["min", "max", "nunique"]) if len(curves) else None
        )
        seeds = src.groupby(["size", "method"])["seed"].nunique()
        tab = [
            '<table class="tbl"><caption>Runs: seeds per method and size (training steps logged)</caption>'
        ]
        tab.append(
            "<thead><tr><th>method</th>"
            + "".join(f"<th>{esc(s)}</th>" for s in sizes)
            + "</tr></thead><tbody>"
        )
        for m in methods:
            cells = []
            for s in sizes:
                if (s, m) not in seeds.index:
                    cells.append("<td>–</td>")
                    continue
                txt = f"{int(seeds[(s, m)])} seeds"
                if steps is not None and (s, m) in steps.index:
                    txt += f" · steps {int(steps.loc[(s, m), 'min'])}–{int(steps.loc[(s, m), 'max'])}"
                cells.append(f"<td>{esc(txt)}</td>")
            tab.append(f"<tr><th>{esc(m)}</th>{''.join(cells)}</tr>")
        tab.append("</tbody></table>")
        out.append("\n".join(tab))
    # evaluation settings
    if len(ev):
        nprob = problem_counts(problems)
        items = []
        for (split, metric), g in ev.groupby(["split", "metric"]):
            extra = ""
            if metric == "pass@k":
                extra = f"; k ∈ {{{', '.join(str(int(k)) for k in sorted(g['k'].dropna().unique()))}}}"
            if metric == "acc_by_difficulty":
                extra = f"; levels {', '.join(sorted(g['difficulty'].dropna().astype(str).unique()))}"
            items.append(
                (
                    f"{split} · {metric}",
                    f"n={_span(g['n'].tolist())} samples, temperature {_span(g['temperature'].tolist())}"
                    f"{extra}; problems: {nprob.get(split, '?')}",
                )
            )
        out.append(_kv_table(items, "Evaluation settings (from eval.csv and problems.csv)"))
    # provenance
    if provs:
        commits: dict[str, int] = {}
        for p in provs:
            key = f"{p.get('git_commit', '?')}{' (dirty)' if p.get('git_dirty') else ''}"
            commits[key] = commits.get(key, 0) + 1
        hardware = sorted({str(p.get("hardware", "?")) for p in provs})
        created = sorted(str(p.get("created", "?")) for p in provs)
        items = [
            ("git commit", "; ".join(f"{k} ×{v}" if len(commits) > 1 else k for k, v in commits.items())),
            ("hardware", "; ".join(hardware)),
            ("created", created[0] if len(created) == 1 else f"{created[0]} … {created[-1]}"),
            ("provenance files", str(len(provs))),
        ]
        if any(p.get("git_dirty") for p in provs):
            items.append(("warning", "at least one run came from a working tree with uncommitted changes"))
        out.append(_kv_table(items, "Provenance"))
        versions: dict[str, set] = {}
        for p in provs:
            for k, v in (p.get("versions") or {}).items():
                versions.setdefault(k, set()).add(str(v))
        if versions:
            out.append(
                _kv_table(
                    [(k, " / ".join(sorted(v))) for k, v in sorted(versions.items())], "Package versions"
                )
            )
        flats = [dict(_flatten(p.get("config") or {})) for p in provs]
        if flats:
            keys = list(dict.fromkeys(k for f in flats for k in f))
            shared = [(k, flats[0][k]) for k in keys if all(k in f and f[k] == flats[0][k] for f in flats)]
            differ = [k for k in keys if (k, flats[0].get(k)) not in shared]
            cap = "Configuration (tasks, models, budgets) shared by every run"
            if differ:
                cap += f"; {len(differ)} key(s) differ between runs: {', '.join(differ[:30])}"
            out.append(f"<details open><summary>{esc(cap)}</summary>{_kv_table(shared)}</details>")
    return "\n".join(out) or "<p class='muted'>No provenance given.</p>"


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
        label = p.stem.removeprefix("task_properties_") if p.stem.startswith("task_properties_") else p.stem
        out[label] = data
    return out


def task_properties_html(
    props: Mapping[str, Mapping], ev: pd.DataFrame | None = None, start: str = "sft"
) -> str:
    """Free-form dict-of-dicts per file (one column per file/size); SFT test avg@n is added from eval.csv."""
    cells: dict[tuple[str, str], dict[str, str]] = {}
    labels = list(props)
    for label, data in props.items():
        for name, val in (data or {}).items():
            items = _flatten(val) if isinstance(val, Mapping) else [("value", _fmt_scalar(val))]
            for field, v in items:
                cells.setdefault((name, field), {})[label] = v
    if ev is not None and len(ev):
        sft = eval_seed_values(ev, "avg@n", "test")
        sft = sft[sft["method"] == start]
        for size, g in sft.groupby("size"):
            key = ("sft_test_not_saturated", f"{start} test avg@n (eval.csv, mean of {len(g)} seeds)")
            cells.setdefault(key, {})[size] = _fmt_scalar(float(g["value"].mean()))
            if size not in labels:
                labels.append(size)
    if not cells:
        return "<p class='muted'>No task properties given.</p>"
    labels = size_order(labels)
    head = "".join(f"<th>{esc(lb)}</th>" for lb in labels)
    body = "".join(
        f"<tr><th>{esc(a)}</th><td>{esc(b)}</td>"
        + "".join(f"<td>{esc(v.get(lb, '–'))}</td>" for lb in labels)
        + "</tr>"
        for (a, b), v in cells.items()
    )
    return (
        '<table class="tbl"><caption>Task properties (task_properties*.json, measured on the SFT model; columns '
        f"are model sizes)</caption><thead><tr><th>property</th><th>field</th>{head}</tr></thead><tbody>{body}"
        "</tbody></table>"
    )


SAMPLES_SHOWN = 6  # graded completions in the report; every run keeps more in its samples.jsonl
PROMPT_TAIL, COMPLETION_TAIL = 300, 600  # characters shown; the problem and the answer sit at the end


def default_sample_files(tables_dir) -> list[Path]:
    """The runs' ``samples.jsonl`` (`rlvr eval`), found from the tables directory: ``<exp>/eval/*/*/seed*/``."""
    return sorted((Path(tables_dir).parent / "eval").glob("*/*/seed*/samples.jsonl"))


def load_samples(paths: Sequence) -> list[list[dict]]:
    """One list of graded completions per file, in file order."""
    out = []
    for path in paths:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        out.append([json.loads(line) for line in lines if line.strip()])
    return out


def pick_graded(per_file: list[list[dict]], k: int = SAMPLES_SHOWN) -> list[dict]:
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


def graded_samples_html(per_file: list[list[dict]], k: int = SAMPLES_SHOWN) -> str:
    """Table of `pick_graded`'s completions: run, prompt and completion (their ends), the answer the
    grader extracted, the gold answer and the reward. All text is HTML-escaped."""
    chosen = pick_graded(per_file, k)
    if not chosen:
        return "<p class='muted'>No samples.jsonl files found.</p>"
    columns = ("run", "prompt (end)", "completion (end)", "extracted", "gold", "reward")
    head = "".join(f"<th>{h}</th>" for h in columns)
    rows = []
    for s in chosen:
        run = " / ".join(str(s.get(key, "")) for key in ("size", "method", "seed", "split", "problem_id"))
        cells = [esc(run), f"<pre>{esc(_tail(s.get('prompt'), PROMPT_TAIL))}</pre>",
                 f"<pre>{esc(_tail(s.get('completion'), COMPLETION_TAIL))}</pre>",
                 esc("(none)" if s.get("extracted") is None else str(s["extracted"])), esc(str(s.get("gold", ""))),
                 esc(f"{float(s['reward']):g}")]  # fmt: skip
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    saved = sum(map(len, per_file))
    caption = f"{len(chosen)} of the {saved} graded completions saved by {len(per_file)} runs (samples.jsonl)"
    return f"<table class='tbl'><caption>{esc(caption)}</caption><tr>{head}</tr>{''.join(rows)}</table>"


def table_block(tables_dir: Path, manifest: dict, name: str) -> str:
    entry = manifest.get(name)
    path = tables_dir / (entry["csv"] if entry else f"{name}.csv")
    if not path.is_file():
        return f"<p class='muted'>Table {esc(name)} was not produced (no data).</p>"
    return to_html(read_display_csv(path), entry["caption"] if entry else name)


def figure_block(fig_dir: Path, name: str) -> str:
    path = fig_dir / f"{name}.png"
    if not path.is_file():
        return f"<p class='muted'>Figure {esc(name)} was not produced (no data).</p>"
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<figure><img alt="{esc(name)}" src="data:image/png;base64,{data}">'
        f"<figcaption>Figure {esc(name)} (also {esc(name)}.pdf); settings in the figure footer.</figcaption></figure>"
    )


CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;color:#222;background:#fff}
main{max-width:1200px;margin:0 auto;padding:1.5em 2em}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.8em}h3{margin-top:1.4em}
table.tbl{border-collapse:collapse;margin:.8em 0;font-size:.82em}
table.tbl th,table.tbl td{border-top:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}
table.tbl thead th{border-bottom:2px solid #444;background:#f6f6f6}
table.tbl caption{caption-side:bottom;text-align:left;color:#555;font-size:.92em;padding-top:.3em}
table.claims td:nth-child(1){min-width:18em}
.muted{color:#666;font-size:.9em}
.badge{display:inline-block;padding:.05em .5em;border-radius:.7em;font-size:.85em;white-space:nowrap}
.v-rep{background:#d4edda;color:#155724}.v-con{background:#f8d7da;color:#721c24}
.v-inc{background:#fff3cd;color:#856404}.v-nr{background:#e2e3e5;color:#383d41}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eee}figcaption{color:#555;font-size:.85em}
details summary{cursor:pointer;color:#333;font-size:.9em}
code{background:#f4f4f4;padding:0 .2em}
"""


# --------------------------------------------------------------------------------------------------
# template rendering
# --------------------------------------------------------------------------------------------------
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
    return markdown.markdown(text)


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
            f"PDF skipped: {'pandoc' if not pandoc else 'a PDF engine (wkhtmltopdf/weasyprint/LaTeX)'} not found"
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
    props = load_task_properties(args.task_properties)
    wall = {}
    if args.wall_times and Path(args.wall_times).is_file():
        wall = json.loads(Path(args.wall_times).read_text(encoding="utf-8"))

    tables_dir, fig_dir = Path(args.tables_dir), Path(args.figures_dir)
    manifest_path = tables_dir / "tables.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.is_file() else {}
    reference = "grpo"
    other_tables = [
        n for n in manifest if n not in ("head_to_head", f"paired_vs_{reference}", "passk_decomposition")
    ]
    exps = (
        sorted(set(ev["exp"].dropna().astype(str)) | set(curves["exp"].dropna().astype(str)))
        if len(ev) or len(curves)
        else []
    )
    counts = results.loc[results["size"] != "(all models)", "verdict"].value_counts()
    rule = doc.get("verdict_rule", {})
    level = float(rule.get("level", stats.DEFAULT_LEVEL))
    n_eval = int(results["verdict"].isin([stats.REPRODUCED, stats.CONTRADICTED, stats.INCONCLUSIVE]).sum())
    confirmatory = ~results["exploratory"].astype(bool)
    n_tested = int((pd.to_numeric(results["n_family"], errors="coerce").notna() & confirmatory).sum())
    blocks = {
        "summary": summary_html(doc, results),
        "verdict_rule": f"<p>{esc(str(rule.get('statement', 'stats.verdict on the paired difference.')))}</p>",
        "setup": setup_html(provs, curves, ev, problems),
        "task_properties": task_properties_html(props, ev),
        "graded_samples": graded_samples_html(
            load_samples(default_sample_files(tables_dir) if args.samples is None else args.samples)
        ),
        "wall_times": _kv_table(_flatten(wall), "Wall times (wall_times.json)")
        if wall
        else "<p class='muted'>No wall_times.json given.</p>",
        "claims_by_paper": papers_html(doc, results),
        "head_to_head": table_block(tables_dir, manifest, "head_to_head"),
        "paired_vs_grpo": table_block(tables_dir, manifest, f"paired_vs_{reference}"),
        "decomposition_table": table_block(tables_dir, manifest, "passk_decomposition"),
        "other_tables": "\n".join(table_block(tables_dir, manifest, n) for n in other_tables)
        or "<p class='muted'>No further tables.</p>",
        "published_settings": "<ul>"
        + "".join(
            f"<li><b>{esc(str(v.get('name', k)))}</b>: {esc(str(v.get('setting', '')))}</li>"
            for k, v in doc.get("papers", {}).items()
            if v.get("arxiv")
        )
        + "</ul>",
    }
    for name in FIGURE_NAMES:
        blocks[f"fig_{name}"] = figure_block(fig_dir, name)
    inline = {
        "exp": ", ".join(exps) or "?",
        "n_claims": str(len(doc["claims"])),
        "n_rows": str(int((results["size"] != "(all models)").sum())),
        "n_reproduced": str(int(counts.get(stats.REPRODUCED, 0))),
        "n_contradicted": str(int(counts.get(stats.CONTRADICTED, 0))),
        "n_inconclusive": str(int(counts.get(stats.INCONCLUSIVE, 0))),
        "n_not_run": str(int(counts.get(stats.NOT_RUN, 0))),
        "n_descriptive": str(int(counts.get(stats.DESCRIPTIVE, 0))),
        "n_not_measured": str(int(counts.get(stats.NOT_MEASURED, 0))),
        "n_tested": str(n_tested),
        "n_survive_holm": str(int((results["holm"] == "survives").sum())),
        "n_survive_bh": str(int((results["bh"] == "survives").sum())),
        "n_evaluated": str(n_eval),
        "level": f"{level:.0%}",
        "chance_expected": f"{n_eval * (1 - level) / 2:.1f}",
        "claims_file": Path(args.claims).name,
    }
    template = Path(args.template).read_text(encoding="utf-8")
    body = render_template(template, blocks, inline)
    out.write_text(build_html(f"RLVR reproduction report: {inline['exp']}", body), encoding="utf-8")
    log(f"wrote {out} and {claims_csv}")
    try_pdf(out)
    return [out, claims_csv]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rlvr report", description=__doc__.split("\n\n")[0])
    p.add_argument("--claims", required=True, help="paper/claims.yaml")
    p.add_argument("--tables-dir", required=True, help="output of `rlvr tables` (tables.json, *.csv)")
    p.add_argument("--figures-dir", required=True, help="output of `rlvr figures` (*.png)")
    p.add_argument("--provenance", nargs="*", default=[], help="provenance.json file(s)")
    p.add_argument(
        "--task-properties", nargs="*", default=[], help="task_properties[_<size>].json file(s), one per size"
    )
    p.add_argument("--wall-times", default=None, help="wall_times.json (optional)")
    p.add_argument("--template", required=True, help="paper/report.md.tmpl")
    p.add_argument("--out", required=True, help="report.html path; claims.csv is written beside it")
    p.add_argument(
        "--data-dir", default=None, help="dir with curves.csv, eval.csv, problems.csv (default: --tables-dir)"
    )
    p.add_argument(
        "--experiment",
        default=None,
        help="JSON (or a JSON file) {name, source, splits, runs: [[size, method, seed], ...]}: what the "
        "experiment trains and evaluates, so a missing method or split is an error (default: read from the data)",
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
