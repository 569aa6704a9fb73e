"""Task-design properties: does the RL prompt set give each method's mechanism its regime?

Measured twice with the same protocol (the first `max_problems` RL prompts, G rollouts each at the
training temperature): on the SFT start, where the regime must hold for the comparison to mean
anything, and on the final GRPO model (seed 0), to see how RL moved it. The GRPO runs' own training
logs add the two trends that only a run shows (rollout reward rising, entropy falling).

| property             | why it matters                                        | target          |
|----------------------|-------------------------------------------------------|-----------------|
| mean_success         | per-rollout success: room for RL to learn and a signal | 0.20 - 0.60     |
| hard_all_fail        | all-fail groups in the hard tail: Guide's regime       | >= 0.50         |
| mixed_below_tau /    | mixed groups on each side of ADORA's tau: ADORA is not |  both >= 0.10   |
|   mixed_above_tau    |   a uniform factor                                    |                 |
| length_rule_holds    | ADORA's length criterion holds in some groups, not all | 0.05 - 0.95     |
| len_correct/len_wrong| correct and wrong completions differ in length         | differ          |
| entropy              | mean per-token entropy of the sampled completions      | falls under RL  |

The trends from the GRPO runs (`training_trends`): rollout accuracy (raw and standardised over
difficulty levels) and entropy, mean of the first fifth of logged steps vs the last fifth, over seeds.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from .jsonl import RECORD_FIELDS, read_jsonl
from .models import load_model, load_tokenizer
from .reward import grade

TARGETS = {
    "mean_success": "0.20-0.60",
    "hard_all_fail": ">= 0.50",
    "mixed_below_tau": ">= 0.10",
    "mixed_above_tau": ">= 0.10",
    "length_rule_holds": "0.05-0.95",
}


def _met(name: str, value: float) -> bool | None:
    bounds = {
        "mean_success": (0.20, 0.60),
        "hard_all_fail": (0.50, 1.0),
        "mixed_below_tau": (0.10, 1.0),
        "mixed_above_tau": (0.10, 1.0),
        "length_rule_holds": (0.05, 0.95),
    }
    if name not in bounds or value != value:
        return None
    lo, hi = bounds[name]
    return bool(lo <= value <= hi)


@torch.no_grad()
def token_entropy(
    model, tokenizer, prompts: list[str], completions: list[str], batch_size: int = 64
) -> float:
    """Mean per-token entropy H(pi(. | q, o_<t)) over the completion tokens, teacher-forced."""
    total, count = 0.0, 0
    tokenizer.padding_side = "right"
    for i in range(0, len(prompts), batch_size):
        p_ids = [tokenizer(p)["input_ids"] for p in prompts[i : i + batch_size]]
        c_ids = [tokenizer(c)["input_ids"] for c in completions[i : i + batch_size]]
        rows = [p + c for p, c in zip(p_ids, c_ids, strict=True)]
        width = max(map(len, rows))
        ids = torch.full((len(rows), width), tokenizer.pad_token_id)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        target = torch.zeros((len(rows), width), dtype=torch.bool)
        for j, (p, r) in enumerate(zip(p_ids, rows, strict=True)):
            ids[j, : len(r)], mask[j, : len(r)] = torch.tensor(r), 1
            target[j, len(p) - 1 : len(r) - 1] = True  # logits at t predict token t+1
        logp = torch.log_softmax(model(input_ids=ids, attention_mask=mask).logits.float(), -1)
        ent = -(logp.exp() * logp).sum(-1)
        total += float(ent[target].sum())
        count += int(target.sum())
    return total / max(count, 1)


def rollout_groups(model_path: str, rows: list[dict], G: int, temperature: float, max_new: int, seed: int,
                   spec: dict | None = None):  # fmt: skip
    """G sampled completions per prompt, graded: [(row, marks, lengths)], and their mean token entropy.

    Sampling goes through the evaluation's engine (`spec["engine"]`: the KV-cache sampler, or vLLM at
    paper scale); the entropy needs the Hugging Face model's logits, so it is measured on the CPU path
    only (NaN with vLLM)."""
    from .evaluate import sampler

    gen = sampler(model_path, spec or {}, seed)
    torch.manual_seed(seed)
    samples = gen([r["prompt"] for r in rows], G, temperature, max_new)
    groups = []
    for row, group in zip(rows, samples, strict=True):
        marks = [
            float(grade(text, row.get("answers") or row["answer"], row.get("answer_format", "gsm8k")) > 0)
            for text, _ in group
        ]
        groups.append((row, marks, [length for _, length in group]))
    if (spec or {}).get("engine", "hf") != "hf":
        return groups, float("nan")
    tokenizer, model = load_tokenizer(model_path), load_model(model_path).eval()
    prompts = [r["prompt"] for r, g in zip(rows, samples, strict=True) for _ in g]
    texts = [text for g in samples for text, _ in g]
    return groups, token_entropy(model, tokenizer, prompts, texts)


def group_properties(groups, tau: float, hard_from: int, max_new: int) -> dict[str, float]:
    """The regime measures of one model's graded rollout groups (see the module table).

    length_rule_holds: share of groups with a correct rollout where ADORA's length criterion holds,
    max |o| over correct > mean |o| over wrong rollouts that did not hit the cap (docs/METHODS.md §1).
    """
    p = np.array([np.mean(m) for _, m, _ in groups])
    hard = np.array([r["difficulty"] >= hard_from for r, _, _ in groups])
    mixed = (p > 0) & (p < 1)
    lens = [(np.array(L), np.array(m, dtype=bool)) for _, m, L in groups]
    all_len = np.concatenate([L for L, _ in lens])
    all_ok = np.concatenate([m for _, m in lens])
    holds = []
    for L, m in lens:
        wrong = L[~m & (L < max_new)]
        if m.any() and len(wrong):
            holds.append(L[m].max() > wrong.mean())
    return {
        "mean_success": float(p.mean()),
        "solves_some": float((p > 0).mean()),
        "hard_all_fail": float((p[hard] == 0).mean()) if hard.any() else float("nan"),
        "mixed_below_tau": float((mixed & (p <= tau)).mean()),
        "mixed_above_tau": float((mixed & (p > tau)).mean()),
        "all_equal": float((~mixed).mean()),
        "length_rule_holds": float(np.mean(holds)) if holds else float("nan"),
        "len_correct": float(all_len[all_ok].mean()) if all_ok.any() else float("nan"),
        "len_wrong": float(all_len[~all_ok].mean()) if (~all_ok).any() else float("nan"),
    }


def by_level(groups) -> dict[str, float]:
    """Mean per-rollout success per difficulty level."""
    levels = sorted({r["difficulty"] for r, _, _ in groups})
    return {
        str(lv): float(np.mean([np.mean(m) for r, m, _ in groups if r["difficulty"] == lv])) for lv in levels
    }


def training_trends(metrics_paths: list[Path]) -> dict[str, float]:
    """Rollout accuracy, its level-standardised form and entropy: first fifth vs last fifth of the
    logged rollout steps, mean over runs. Standardised: each difficulty level's accuracy over the
    fifth's steps that drew it, then the equal-weight mean over levels drawn in both fifths."""
    first: dict[str, list] = {"accuracy": [], "accuracy_standardised": [], "entropy": []}
    last: dict[str, list] = {k: [] for k in first}
    for path in metrics_paths:
        rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
        for key in ("accuracy", "entropy"):
            vals = [r[key] for r in rows if key in r]
            if len(vals) >= 5:
                k = len(vals) // 5
                first[key].append(np.mean(vals[:k]))
                last[key].append(np.mean(vals[-k:]))
        rollouts = [r for r in rows if "accuracy" in r]
        k = len(rollouts) // 5
        levels = sorted({key for r in rollouts for key in r if key.startswith("accuracy/level_")})
        ends = []
        for part in (rollouts[:k], rollouts[-k:]) if k else ():
            ends.append({lv: np.mean([r[lv] for r in part if lv in r]) for lv in levels
                         if any(lv in r for r in part)})  # fmt: skip
        both = [lv for lv in levels if ends and all(lv in e for e in ends)]
        if both:
            first["accuracy_standardised"].append(np.mean([ends[0][lv] for lv in both]))
            last["accuracy_standardised"].append(np.mean([ends[1][lv] for lv in both]))
    out = {}
    for key in first:
        if first[key]:
            out[f"{key}_first_fifth"] = float(np.mean(first[key]))
            out[f"{key}_last_fifth"] = float(np.mean(last[key]))
    return out


def task_properties(models: dict[str, str], rl_data: Path, spec: dict, seed: int,
                    grpo_metrics: list[Path] = ()) -> dict:  # fmt: skip
    """{property: {model label: value, ..., "target": ..., "met (SFT start)": ...}} for the report."""
    rows = read_jsonl(rl_data, required=RECORD_FIELDS)[: spec.get("max_problems", 200)]
    G, max_new = spec["num_generations"], spec["max_new_tokens"]
    out: dict[str, dict] = {}
    for label, path in models.items():
        groups, entropy = rollout_groups(
            str(path), rows, G, spec.get("temperature", 1.0), max_new, seed, spec
        )
        props = group_properties(groups, spec.get("tau", 0.5), spec["hard_from"], max_new)
        props["entropy"] = entropy
        for name, value in props.items():
            out.setdefault(name, {})[label] = value
        for level, value in by_level(groups).items():
            out.setdefault(f"success_level_{level}", {})[label] = value
    first = next(iter(models))
    for name, target in TARGETS.items():
        out[name]["target"] = target
        out[name][f"met ({first})"] = _met(name, out[name][first])
    trends = training_trends(list(grpo_metrics))
    for key in ("accuracy", "accuracy_standardised", "entropy"):
        if f"{key}_first_fifth" in trends:
            out[f"grpo_training_{key}"] = {
                "first fifth": trends[f"{key}_first_fifth"],
                "last fifth": trends[f"{key}_last_fifth"],
                "runs": len(grpo_metrics),
            }
    out["protocol"] = {"prompts": len(rows), "G": G, "max_new_tokens": max_new, "seed": seed}
    return out
