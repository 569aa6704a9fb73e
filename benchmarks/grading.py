"""Grading throughput on synthetic completions (issue 22 point 7).

Prints completions/s for two paths over the same completions: every answer through a forked
math-verify child (the cost of the fork-per-call path), and `reward.grade` (exact numbers, sets and
scientific notation decided without a child; only the rest forks).

    PYTHONPATH=src python benchmarks/grading.py --n 1024
"""

from __future__ import annotations

import argparse
import time

from rlvr_repro.reward import TIMEOUTS, extract_answer, grade, math_verify_with_timeout

CASES = [  # (completion, gold): numbers, a set, scientific notation, symbolic, nested braces
    ("so \\boxed{42}", "42"),
    ("\\boxed{2, 1}", "1, 2"),
    ("\\boxed{6.3e-26}", "6.3\\times10^{-26}"),
    ("\\boxed{\\frac{1}{2}}", "0.5"),
    ("\\boxed{" + "{" * 15 + "5" + "}" * 15 + "}", "5"),
    ("\\boxed{x^2+1}", "1+x^2"),
    ("\\boxed{17}", "18"),
    ("\\boxed{\\sqrt{2}}", "2^{1/2}"),
]


def _rate(fn, pairs) -> float:
    start = time.perf_counter()
    for completion, gold in pairs:
        fn(completion, gold)
    return len(pairs) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1024, help="completions to grade")
    n = parser.parse_args().n
    pairs = [CASES[i % len(CASES)] for i in range(n)]
    fork = _rate(lambda c, g: math_verify_with_timeout(f"${g}$", f"${extract_answer(c, 'boxed')}$"), pairs)
    fast = _rate(lambda c, g: grade(c, g, "boxed"), pairs)
    print(f"{n} completions: fork per call {fork:.1f}/s, grade() {fast:.1f}/s; timeouts {TIMEOUTS['count']}")


if __name__ == "__main__":
    main()
