"""Loaders and grader on real benchmark files (issue 17): `tests/fixtures/real/`, sources in its README."""

import json
from pathlib import Path

import pytest

from rlvr_repro import loaders
from rlvr_repro.reward import grade, last_boxed

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


# Misses of the worked solutions, each explained: the solution's last \boxed{} is not its answer.
EXPLAINED_MISSES = {
    # AoPS solution 75 ends with "\boxed{\textbf{(073)}}": bold and parenthesised, a typesetting artefact of
    # the wiki page, not the number 73 (the record's gold, from the `answer` column, is "073")
    ("aime24", "aime24-75"): "\\textbf{(073)}",
}


@pytest.mark.parametrize(
    "loader, name, n_rows",
    [("aime24", "aime24_test.jsonl", 30), ("amc23", "amc23_test.jsonl", 40),
     ("minerva", "minerva_math_test_head50.jsonl", 50)],
)  # fmt: skip
def test_qwen_math_eval_files_load_and_grade(loader, name, n_rows):
    rows = loaders.load_source({"loader": loader, "path": str(REAL / name), "split": "test"}, loader)
    assert len(rows) == n_rows and all(r["answer"] and r["problem"] for r in rows)
    boxed, boxed_misses = rate([(f"\\boxed{{{r['answer']}}}", r["answer"]) for r in rows], "boxed")
    assert boxed_misses == [] and boxed >= MIN_RATE
    worked = [r for r in rows if last_boxed(r["solution"])]
    misses = {
        (loader, r["id"]): last_boxed(r["solution"])
        for r in worked
        if grade(r["solution"], r["answer"], "boxed") != 1.0
    }
    assert misses == {key: box for key, box in EXPLAINED_MISSES.items() if key[0] == loader}


def test_amc23_floats_and_aime_leading_zeros_grade_as_numbers():
    amc = loaders.load_source({"loader": "amc23", "path": str(REAL / "amc23_test.jsonl")}, "amc23")
    assert json.loads((REAL / "amc23_test.jsonl").read_text().splitlines()[0])["answer"] == 27.0  # a float
    assert amc[0]["answer"] == "27" and grade("\\boxed{27}", amc[0]["answer"], "boxed") == 1.0
    aime = loaders.load_source({"loader": "aime24", "path": str(REAL / "aime24_test.jsonl")}, "aime24")
    row = next(r for r in aime if r["id"] == "aime24-75")
    assert grade("\\boxed{73}", row["answer"], "boxed") == 1.0  # gold "073"
