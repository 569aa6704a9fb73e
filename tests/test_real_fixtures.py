"""Loaders and grader on real benchmark files (issue 17): `tests/fixtures/real/`, sources in its README."""

import json
from pathlib import Path

from rlvr_repro import loaders
from rlvr_repro.reward import grade

REAL = Path(__file__).parent / "fixtures" / "real"
MIN_RATE = 0.995  # issue 17: boxed golds and worked solutions grade correct on >= 99.5 % per benchmark


def rate(pairs, answer_format):
    """Fraction graded correct and the misses, as (completion, gold)."""
    misses = [(c, g) for c, g in pairs if grade(c, g, answer_format) != 1.0]
    return 1 - len(misses) / len(pairs), misses


def test_gsm8k_real_file_loads_and_grades():
    source = {"loader": "gsm8k", "path": str(REAL / "gsm8k_test_head40.jsonl"), "split": "test"}
    rows = loaders.load_source(source, "gsm8k")
    assert len(rows) == 40 and rows[0]["answer"] == "18" and rows[2]["answer"] == "70000"
    assert all(r["answer_format"] == "gsm8k" and r["answers"] == [r["answer"]] for r in rows)
    boxed, boxed_misses = rate([(f"\\boxed{{{r['answer']}}}", r["answer"]) for r in rows], "boxed")
    worked, worked_misses = rate([(r["solution"], r["answer"]) for r in rows], "gsm8k")
    raw = [json.loads(line) for line in (REAL / "gsm8k_test_head40.jsonl").read_text().splitlines()]
    original, original_misses = rate(
        [(x["answer"], r["answer"]) for x, r in zip(raw, rows, strict=True)], "gsm8k"
    )
    assert original_misses == [] and original == 1.0  # the published solutions, calculator notes and all
    assert boxed_misses == [] and worked_misses == []  # no miss to explain on this sample
    assert boxed >= MIN_RATE and worked >= MIN_RATE
