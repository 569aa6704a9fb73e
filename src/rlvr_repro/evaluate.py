"""Evaluation: n samples per problem (and greedy), graded, summarised as pass@k / avg@n.

Generation is the project's KV-cache sampler over the Hugging Face model (`sampling.py`, the CPU path);
the GPU configs swap in vLLM offline generation (`eval.engine: vllm`). Grading is `reward.judge` with each
record's ``answer_format`` and the ``eval.format_check`` knob (docs/METHODS.md §4). A few graded
completions per split (``eval.samples``, `pick_samples`) are saved so a reader can audit the grader, and
the number of grader timeouts per split (metric ``grader_timeouts``, `reward.TIMEOUTS`) is written.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from . import reward, sampling
from .aggregate import EVAL_COLUMNS, PROBLEM_COLUMNS  # noqa: F401 - the files this module writes
from .jsonl import RECORD_FIELDS, read_jsonl, write_jsonl
from .models import load_model, load_tokenizer
from .reward import DEFAULT_ANSWER_FORMAT, Grade, judge
from .stats import pass_at_k


def sample(model, tokenizer, prompts: list[str], n: int, temperature: float, max_new_tokens: int,
           top_p: float = 1.0, batch_size: int = 512) -> list[list[tuple[str, int]]]:  # fmt: skip
    """n completions per prompt as (text, length in tokens); temperature 0 means greedy (n must be 1)."""
    tokenizer.padding_side = "left"
    per_chunk = max(1, batch_size // n)
    out = []
    for i in range(0, len(prompts), per_chunk):
        enc = tokenizer(prompts[i : i + per_chunk], return_tensors="pt", padding=True).to(model.device)
        completions = sampling.generate(model, enc["input_ids"], enc["attention_mask"], n, temperature,
                                        max_new_tokens, tokenizer.eos_token_id, top_p)  # fmt: skip
        texts = tokenizer.batch_decode(completions, skip_special_tokens=True)
        pairs = [(text, len(ids)) for text, ids in zip(texts, completions, strict=True)]
        out.extend(pairs[j * n : (j + 1) * n] for j in range(len(pairs) // n))
    return out


DEFAULT_SAMPLES = 4  # graded completions saved per split and run (eval.samples)
SAMPLE_FIELDS = ("exp", "size", "method", "seed", "split", "problem_id", "sample", "prompt", "completion",
                 "extracted", "gold", "reward", "answer_format", "format_ok")  # fmt: skip


def grade_groups(rows: list[dict], samples: list[list[tuple[str, int]]], format_check: bool = False
                 ) -> list[list[Grade]]:  # fmt: skip
    """Every completion graded against its row's gold answer (any of its ``answers`` alternatives when
    the record lists them) under the row's answer format."""
    return [
        [
            judge(
                text,
                row.get("answers") or row["answer"],
                row.get("answer_format", DEFAULT_ANSWER_FORMAT),
                format_check,
            )
            for text, _ in group
        ]
        for row, group in zip(rows, samples, strict=True)
    ]


def score(samples: list[list[tuple[str, int]]], grades: list[list[Grade]]) -> list[tuple[float, float]]:
    """(number correct, mean length) per problem."""
    return [
        (sum(g.reward for g in marks), float(np.mean([length for _, length in group])))
        for group, marks in zip(samples, grades, strict=True)
    ]


def pick_samples(grades: list[list[Grade]], k: int) -> list[tuple[int, int]]:
    """Up to `k` (problem, sample) indices to show, deterministically: half of them correct and half
    wrong (rounding towards correct) when both exist, the other kind filling in when one runs short;
    within a kind, first samples of successive problems before second samples."""
    order = sorted(
        ((i, j) for i, marks in enumerate(grades) for j in range(len(marks))), key=lambda ij: ij[::-1]
    )
    right = [(i, j) for i, j in order if grades[i][j].reward > 0]
    wrong = [(i, j) for i, j in order if grades[i][j].reward == 0]
    n_right = min(len(right), max(k - len(wrong), (k + 1) // 2))
    return sorted(right[:n_right] + wrong[: k - n_right])


def sample_records(base: dict, rows: list[dict], samples, grades, k: int) -> list[dict]:
    """`pick_samples`'s completions as `SAMPLE_FIELDS` records."""
    out = []
    for i, j in pick_samples(grades, k):
        row, mark = rows[i], grades[i][j]
        out.append({**{key: base.get(key, "") for key in SAMPLE_FIELDS[:5]}, "problem_id": row["id"],
                    "sample": j, "prompt": row["prompt"], "completion": samples[i][j][0],
                    "extracted": mark.extracted, "gold": row["answer"], "reward": mark.reward,
                    "answer_format": row.get("answer_format", DEFAULT_ANSWER_FORMAT),
                    "format_ok": mark.format_ok})  # fmt: skip
    return out


def sampler(model_path: str, spec: dict, seed: int):
    """`gen(prompts, n, temperature, max_new_tokens, top_p)` for the configured engine: Hugging Face
    sampler (`eval.engine: hf`, the CPU path) or vLLM offline generation (`engine: vllm`)."""
    if spec.get("engine", "hf") == "vllm":
        from . import vllm_backend

        def gen(prompts, n, temperature, max_new, top_p=1.0):
            return vllm_backend.sample(
                model_path, prompts, n, temperature, max_new, top_p, seed, spec.get("vllm")
            )

        return gen
    tokenizer, model = load_tokenizer(model_path), load_model(model_path).eval()

    def gen(prompts, n, temperature, max_new, top_p=1.0):
        return sample(model, tokenizer, prompts, n, temperature, max_new, top_p)

    return gen


def evaluate(model_path: str, splits: dict[str, Path], spec: dict, seed: int, identity: dict,
             samples_out: Path | None = None):  # fmt: skip
    """Return (tidy metric rows, per-problem rows) for every split; with `samples_out`, also write
    ``eval.samples`` graded completions per split there (`SAMPLE_FIELDS`, JSON lines)."""
    gen = sampler(model_path, spec, seed)
    n, temperature, max_new = spec["n"], spec.get("temperature", 1.0), spec["max_new_tokens"]
    ks = [k for k in spec.get("ks", [2**i for i in range(12)]) if k <= n]
    format_check = spec.get("format_check", False)
    metrics, problems, shown = [], [], []
    for split, path in splits.items():
        rows = read_jsonl(path, required=RECORD_FIELDS)[: spec.get("max_problems")]
        prompts = [r["prompt"] for r in rows]
        torch.manual_seed(seed)
        texts = gen(prompts, n, temperature, max_new, spec.get("top_p", 1.0))
        timeouts = reward.TIMEOUTS["count"]
        grades = grade_groups(rows, texts, format_check)
        sampled = score(texts, grades)
        greedy_texts = gen(prompts, 1, 0.0, max_new)
        greedy = score(greedy_texts, grade_groups(rows, greedy_texts, format_check))
        timeouts = reward.TIMEOUTS["count"] - timeouts  # sampled and greedy completions of this split
        base = {**identity, "seed": seed, "split": split}
        shown += sample_records(base, rows, texts, grades, spec.get("samples", DEFAULT_SAMPLES))

        def add(metric, value, k="", difficulty="", n_=n, temp=temperature, base=base):
            metrics.append({**base, "metric": metric, "k": k, "difficulty": difficulty, "value": value,
                            "n": n_, "temperature": temp})  # fmt: skip

        for k in ks:
            add("pass@k", float(np.mean([pass_at_k(n, c, k) for c, _ in sampled])), k=k)
        add("avg@n", float(np.mean([c / n for c, _ in sampled])))
        add("greedy_acc", float(np.mean([c for c, _ in greedy])), n_=1, temp=0.0)
        add("mean_length", float(np.mean([length for _, length in sampled])))
        add("grader_timeouts", float(timeouts))  # each scored 0 (reward.TIMEOUTS), counted, never silent
        by_level = defaultdict(list)
        for row, (c, _) in zip(rows, sampled, strict=False):
            by_level[row["difficulty"]].append(c / n)
        for level in sorted(by_level):
            add("acc_by_difficulty", float(np.mean(by_level[level])), difficulty=level)
        for row, (c, length), (g, _) in zip(rows, sampled, greedy, strict=False):
            problems.append({**base, "problem_id": row["id"], "difficulty": row["difficulty"], "n": n, "c": c,
                             "greedy_correct": int(g), "mean_length": length})  # fmt: skip
    if spec.get("engine") == "vllm":
        from . import vllm_backend

        vllm_backend.shutdown()  # one model on the GPU at a time
    if samples_out is not None:
        write_jsonl(samples_out, shown)
    return metrics, problems


def write_csv(path: Path, rows: list[dict], columns: list[str]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)
