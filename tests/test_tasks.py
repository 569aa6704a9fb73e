"""Synthetic verifiable tasks: formats, arithmetic correctness, hints, determinism, split hygiene."""

import ast
import math
import random
import re
from collections import Counter

import pytest

from rlvr_repro import tasks
from rlvr_repro.jsonl import RECORD_FIELDS, read_jsonl
from rlvr_repro.tasks import (
    ANSWER_CUE,
    FAMILIES,
    arith_problem,
    build_splits,
    make_arith,
    make_geometry,
    rewrite_chain,
    task_stats,
    with_hint,
    write_splits,
)

CFG = {
    "families": ["arith", "geometry"],
    "splits": {
        "sft": {"n": 400, "difficulty": [1, 2]},
        "rl": {"n": 240, "difficulty": [1, 4]},
        "test": {"n": 80, "difficulty": [1, 4]},
        "ood": {"n": 40, "difficulty": [5, 6]},
    },
}
LEVELS = range(1, 7)
SAMPLES = 60  # problems per (family, level) in the property tests
LABEL = re.compile(r"[A-Za-z]+")
INTEGER = re.compile(r"-?\d+")


# --- an independent, safe evaluator for our own step text ------------------------------------------------


def _value(node: ast.AST) -> int:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_value(node.operand)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub | ast.Mult | ast.Div):
        a, b = _value(node.left), _value(node.right)
        if isinstance(node.op, ast.Div):
            assert b != 0 and a % b == 0, f"inexact division {a}/{b}"
            return a // b
        return {ast.Add: a + b, ast.Sub: a - b, ast.Mult: a * b}[type(node.op)]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "sqrt":
        assert len(node.args) == 1 and not node.keywords
        x = _value(node.args[0])
        root = math.isqrt(x)
        assert root * root == x, f"sqrt({x}) is not an integer"
        return root
    raise AssertionError(f"unexpected syntax: {ast.dump(node)}")


def evaluate(text: str) -> int:
    return _value(ast.parse(text, mode="eval").body)


def n_ops(text: str) -> int:
    """Operations left to do in ``text`` (a sqrt counts as one)."""
    return sum(isinstance(node, ast.BinOp | ast.Call) for node in ast.walk(ast.parse(text, mode="eval")))


def segments(line: str) -> list[str]:
    """The expressions of a step line ``[label = ]expr = ... = expr``, label dropped."""
    parts = line.split(" = ")
    return parts[1:] if LABEL.fullmatch(parts[0]) else parts


def check_equation(line: str) -> int:
    """Every expression of the line has the same value; return it."""
    exprs = segments(line)
    assert len(exprs) >= 2, line
    values = [evaluate(e) for e in exprs]
    assert len(set(values)) == 1, f"{line!r} evaluates to {values}"
    return values[0]


def check_step(line: str) -> int:
    """A correct step line whose every rewrite does work and whose last expression is a number."""
    exprs = segments(line)
    ops = [n_ops(e) for e in exprs]
    assert all(a > b for a, b in zip(ops, ops[1:], strict=False)), f"{line!r}: a rewrite does no work"
    assert INTEGER.fullmatch(exprs[-1]), f"step does not end in a number: {line!r}"
    return check_equation(line)


def check_solution(problem: dict) -> list[str]:
    """Each step is correct, the last one gives the answer, and the final line is ``#### answer``."""
    *steps, final = problem["solution"].split("\n")
    assert INTEGER.fullmatch(problem["answer"])
    assert final == "#### " + problem["answer"]
    assert steps
    values = [check_step(step) for step in steps]
    assert values[-1] == int(problem["answer"])
    return steps


def problems(family: str, level: int, seed: int = 0) -> list[dict]:
    rng = random.Random(f"{family}-{level}-{seed}")
    return [FAMILIES[family](level, rng) for _ in range(SAMPLES)]


# --- hand-checked examples -------------------------------------------------------------------------------


def test_rewrite_chain_does_one_operation_at_a_time():
    assert rewrite_chain("3+4*2-5") == ["3+4*2-5", "3+8-5", "11-5", "6"]
    assert rewrite_chain("2*3*4-5*6") == ["2*3*4-5*6", "6*4-5*6", "24-5*6", "24-30", "-6"]
    assert rewrite_chain("10-20-30") == ["10-20-30", "-10-30", "-40"]
    assert rewrite_chain("(5+9)*4/2") == ["(5+9)*4/2", "14*4/2", "56/2", "28"]
    assert rewrite_chain("2*(8+6-1)") == ["2*(8+6-1)", "2*(14-1)", "2*13", "26"]
    assert rewrite_chain("(7-2)*180") == ["(7-2)*180", "5*180", "900"]


def test_rewrite_chain_rejects_inexact_division_and_foreign_text():
    with pytest.raises(ValueError, match="exact"):
        rewrite_chain("7/2")
    for bad in ("2**3", "2^3", "x+1", "(1+2", "1)+(2", "-3+4", "1+", ""):
        with pytest.raises(ValueError, match="not an expression"):
            rewrite_chain(bad)
    assert rewrite_chain("(3)+1") == ["(3)+1", "3+1", "4"]


def test_arith_problem_fixed_expression():
    assert arith_problem("3+4*2-5") == {
        "question": "What is 3+4*2-5?",
        "solution": "3+4*2-5 = 3+8-5 = 11-5 = 6\n#### 6",
        "answer": "6",
        "hint": "3+4*2-5 = 3+8-5",
    }
    assert arith_problem("12-30*3")["solution"] == "12-30*3 = 12-90 = -78\n#### -78"


@pytest.mark.parametrize(
    ("expr", "hint"),
    [("47+8", "47+8 = 40+15"), ("47-8", "47-8 = 40-1"), ("43-2", "43-2 = 40+1"), ("47*8", "47*8 = 320+56")],
)
def test_one_step_arith_hint_is_a_place_value_split(expr, hint):
    problem = arith_problem(expr)
    assert problem["hint"] == hint
    assert check_equation(problem["hint"]) == int(problem["answer"])


def test_one_step_arith_needs_tens_and_units():
    with pytest.raises(ValueError, match="tens and units"):
        arith_problem("7+8")
    for bad in ("47", "4/2+1", "(4+2)*3", "-4+2"):
        with pytest.raises(ValueError, match="joined by"):
            arith_problem(bad)


def test_geometry_examples():
    assert make_geometry(2, random.Random(0)) == {
        "question": "A regular polygon has 30 sides. Find one interior angle.",
        "solution": "ext = 360/30 = 12\neach = 180-12 = 168\n#### 168",
        "answer": "168",
        "hint": "ext = 360/30 = 12",
    }
    assert tasks._hyp_lines(6, 8) == (["6*6+8*8 = 36+64 = 100", "sqrt(100) = 10"], 10)
    assert tasks._leg_lines(13, 5) == (["13*13-5*5 = 169-25 = 144", "sqrt(144) = 12"], 12)


def test_with_hint_goes_right_before_the_answer_cue():
    prompt = "Q: What is 3+4*2-5?" + ANSWER_CUE
    assert with_hint(prompt, "3+4*2-5 = 3+8-5") == "Q: What is 3+4*2-5?\nHint: 3+4*2-5 = 3+8-5\nA: "
    two_lines = with_hint(prompt, "a = 1\nb = 2")
    assert two_lines.endswith("\nHint: a = 1\nb = 2" + ANSWER_CUE)
    with pytest.raises(ValueError, match="answer cue"):
        with_hint("Q: no cue", "x")


# --- properties of every generated problem ---------------------------------------------------------------


@pytest.mark.parametrize("level", LEVELS)
def test_arith_solutions_are_correct(level):
    for problem in problems("arith", level):
        (step,) = check_solution(problem)
        expr = problem["question"].removeprefix("What is ").removesuffix("?")
        assert segments(step)[0] == expr
        assert n_ops(expr) == level + 1  # levels count operations beyond the first
        assert step.count(" = ") == level + 1
        bound = 10 if level <= tasks.IN_DISTRIBUTION_MAX_LEVEL else 100  # one-digit values in distribution
        assert all(0 <= int(x) < bound for x in re.findall(r"\d+", step))


@pytest.mark.parametrize("level", LEVELS)
def test_geometry_solutions_are_correct(level):
    for problem in problems("geometry", level):
        assert len(check_solution(problem)) == level


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("level", LEVELS)
def test_hint_helps_without_giving_the_answer(family, level):
    for problem in problems(family, level):
        hint, solution, answer = problem["hint"], problem["solution"], int(problem["answer"])
        *steps, _ = solution.split("\n")
        assert hint and "####" not in hint
        hint_lines = hint.split("\n")
        if len(steps) > 1:  # geometry from level 2: the first half of the step lines
            assert len(hint_lines) == len(steps) // 2
            assert solution.startswith(hint + "\n")
            continue
        (line,) = hint_lines  # otherwise part of the only step line, with an operation still to do
        exprs = segments(line)
        assert n_ops(exprs[-1]) > 0
        assert len({evaluate(e) for e in exprs}) == 1
        if family == "arith" and n_ops(exprs[0]) == 1:  # a place-value split: 47+8 = 40+15
            assert evaluate(exprs[0]) == answer and not solution.startswith(hint)
        else:  # the first half of the rewrites
            assert solution.startswith(hint + " = ")
            assert len(exprs) - 1 == (len(segments(steps[0])) - 1) // 2


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_levels_get_longer_and_stay_within_budget(family):
    means = []
    for level in LEVELS:
        lengths = [len(p["solution"]) for p in problems(family, level)]
        means.append(sum(lengths) / len(lengths))
        assert max(lengths) <= (100 if level <= 4 else 140), (family, level, max(lengths))
        assert all(len(p["question"]) <= 120 for p in problems(family, level))
    assert means == sorted(means) and len(set(means)) == len(means), means
    assert means[3] <= 90 and means[5] <= 130, means


def test_unsupported_difficulties_are_rejected():
    with pytest.raises(ValueError, match=r"\[1, 2, 3, 4, 5, 6\]"):
        make_geometry(7, random.Random(0))
    with pytest.raises(ValueError, match=">= 1"):
        make_arith(0, random.Random(0))


# --- splits ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def splits():
    return build_splits(CFG, seed=0)


def all_rows(splits):
    return [row for rows in splits.values() for row in rows]


def test_records_have_the_fixed_format(splits):
    for row in all_rows(splits):
        assert list(row) == [*RECORD_FIELDS, "family"]
        assert row["prompt"].startswith("Q: ") and row["prompt"].endswith(ANSWER_CUE)
        assert row["prompt"].count(ANSWER_CUE) == 1
        assert row["solution"].endswith("\n#### " + row["answer"])
        assert isinstance(row["difficulty"], int)
        assert re.fullmatch(rf"{row['family']}-{row['split']}-\d{{5}}", row["id"])


def test_text_is_printable_ascii(splits):
    allowed = {chr(c) for c in range(32, 127)} | {"\n"}
    for row in all_rows(splits):
        for field in ("prompt", "answer", "solution", "hint"):
            assert set(row[field]) <= allowed, (row["id"], field)


def test_ids_are_unique_and_numbered_per_family(splits):
    for name, rows in splits.items():
        for family in CFG["families"]:
            ids = sorted(row["id"] for row in rows if row["family"] == family)
            assert ids == [f"{family}-{name}-{i:05d}" for i in range(len(ids))]


def test_difficulty_distribution_matches_config(splits):
    assert list(splits) == list(CFG["splits"])
    for name, spec in CFG["splits"].items():
        lo, hi = spec["difficulty"]
        cells = len(CFG["families"]) * (hi - lo + 1)
        counts = Counter((row["family"], row["difficulty"]) for row in splits[name])
        expected = {(f, d): spec["n"] // cells for f in CFG["families"] for d in range(lo, hi + 1)}
        assert counts == expected
        assert all(row["split"] == name for row in splits[name])


def test_uneven_n_gives_the_remainder_to_the_first_cells():
    cfg = {"families": ["arith", "geometry"], "splits": {"test": {"n": 7, "difficulty": [1, 2]}}}
    counts = Counter((row["family"], row["difficulty"]) for row in build_splits(cfg, 0)["test"])
    assert counts == {("arith", 1): 2, ("arith", 2): 2, ("geometry", 1): 2, ("geometry", 2): 1}


def test_no_prompt_is_shared_within_or_across_splits(splits):
    prompts = [row["prompt"] for row in all_rows(splits)]
    assert len(prompts) == len(set(prompts))
    held_out = {row["prompt"] for name in ("test", "ood") for row in splits[name]}
    assert not held_out & {row["prompt"] for name in ("sft", "rl") for row in splits[name]}


def test_splits_are_deterministic_and_seed_dependent(splits):
    assert build_splits(CFG, seed=0) == splits
    other = build_splits(CFG, seed=1)
    assert [r["prompt"] for r in other["test"]] != [r["prompt"] for r in splits["test"]]


def test_held_out_splits_do_not_depend_on_training_sizes(splits):
    bigger = {**CFG, "splits": {**CFG["splits"], "sft": {"n": 1200, "difficulty": [1, 2]}}}
    rebuilt = build_splits(bigger, seed=0)
    assert rebuilt["test"] == splits["test"] and rebuilt["ood"] == splits["ood"]


def test_rows_are_shuffled(splits):
    levels = [row["difficulty"] for row in splits["rl"]]
    assert levels != sorted(levels)


def test_too_few_distinct_problems_is_a_clear_error():
    cfg = {"families": ["arith"], "splits": {"sft": {"n": 2000, "difficulty": [1, 1]}}}
    with pytest.raises(ValueError, match="arith difficulty 1: .*too few distinct problems"):
        build_splits(cfg, 0)


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        ({"families": ["arith", "algebra"], "splits": CFG["splits"]}, "valid families: arith, geometry"),
        ({"families": [], "splits": CFG["splits"]}, "non-empty list"),
        ({"families": ["arith", "arith"], "splits": CFG["splits"]}, "distinct"),
        ({"families": ["arith"], "splits": {}}, "non-empty mapping"),
        ({"families": ["arith"], "splits": {"rl": {"n": 0, "difficulty": [1, 2]}}}, "'n' must be a positive"),
        ({"families": ["arith"], "splits": {"rl": {"n": 5, "difficulty": [3, 2]}}}, "'difficulty' must be"),
        ({"families": ["arith"], "splits": {"rl": [5]}}, "expected a mapping"),
        ({"families": ["geometry"], "splits": {"ood": {"n": 5, "difficulty": [6, 7]}}}, "got 7"),
    ],
)
def test_bad_config_is_rejected(cfg, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        build_splits(cfg, 0)


def test_write_splits_round_trips(tmp_path, splits):
    paths = write_splits(CFG, 0, tmp_path / "data")
    assert paths == {name: tmp_path / "data" / f"{name}.jsonl" for name in CFG["splits"]}
    for name, path in paths.items():
        assert read_jsonl(path, RECORD_FIELDS) == splits[name]


def test_task_stats_counts_and_lengths(splits):
    stats = task_stats(splits["test"])
    assert stats["n"] == 80
    assert stats["by_family"] == {"arith": 40, "geometry": 40}
    assert [(s["family"], s["difficulty"], s["count"]) for s in stats["levels"]] == [
        (family, level, 10) for family in ("arith", "geometry") for level in range(1, 5)
    ]
    lengths = [len(row["solution"]) for row in splits["test"]]
    assert stats["mean_solution_chars"] == round(sum(lengths) / len(lengths), 1)
    assert task_stats([]) == {"n": 0, "by_family": {}, "levels": [], "mean_solution_chars": 0.0}


def test_slipped_solution_by_hand():
    from rlvr_repro.tasks import slipped_solution

    # 8-3+4: honest 8-3+4 = 5+4 = 9; a slip of -1 on the first operation gives 4+4 = 8
    assert slipped_solution("8-3+4", 0, -1) == "8-3+4 = 4+4 = 8\n#### 8"
    # a slip on the last operation changes only the last value
    assert slipped_solution("8-3+4", 1, 1) is None  # 10 leaves the one-digit range of levels 1-4
    assert slipped_solution("8-3+4", 1, -2) == "8-3+4 = 5+4 = 7\n#### 7"
    assert slipped_solution("2*0+1", 0, 1) == "2*0+1 = 1+1 = 2\n#### 2"


def test_slips_only_on_training_splits_and_keep_the_true_answer():
    from rlvr_repro.tasks import build_splits

    cfg = {"families": ["arith"], "splits": {"sft": {"n": 300, "difficulty": [1, 3], "slip": 0.3},
                                             "test": {"n": 40, "difficulty": [1, 3]}}}  # fmt: skip
    splits = build_splits(cfg, 0)
    slipped = [r for r in splits["sft"] if r["solution"].rsplit("#### ", 1)[1] != r["answer"]]
    assert 0.2 < len(slipped) / 300 < 0.4  # about the rate; a few rows have no in-range slip
    assert all(r["solution"].rsplit("#### ", 1)[1] == r["answer"] for r in splits["test"])
    assert build_splits(cfg, 0) == splits  # deterministic
    with pytest.raises(ValueError, match="slip"):
        build_splits(
            {"families": ["arith"], "splits": {"test": {"n": 4, "difficulty": [1, 1], "slip": 0.1}}}, 0
        )
