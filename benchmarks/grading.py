"""Grading throughput on synthetic completions (issue 22 point 7).

Prints completions/s for three paths over the same completions: every answer through a freshly forked
math-verify child (the old fork-per-call path), every answer through `reward.math_verify_with_timeout`
(the persistent worker), and `reward.grade` (identical strings, exact numbers, sets and scientific
notation decided without math-verify; only the rest goes to the worker).

    PYTHONPATH=src python benchmarks/grading.py --n 1024

Measured here (2 cores shared with other jobs, so absolute rates are low): fork per call 0.8/s (``--n 64``;
at ``--n 1024`` it did not finish in 500 s), persistent worker 112/s and ``grade()`` 1,574/s
(``--n 1024 --skip-fork``), 0 timeouts. The 8 cases repeat, so math-verify's own caches help the worker.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time

from rlvr_repro import reward
from rlvr_repro.reward import TIMEOUTS, extract_answer, grade, math_verify_with_timeout, strip_braces

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


def fork_per_call(gold: str, pred: str, timeout: float = 5.0) -> bool:
    """The path before the persistent worker: one forked child per math-verify call."""
    recv, send = mp.get_context("fork").Pipe(duplex=False)
    child = mp.get_context("fork").Process(target=reward._math_verify, args=(gold, pred, send), daemon=True)
    child.start()
    send.close()
    ok = recv.recv() if recv.poll(timeout) else False
    child.kill()
    child.join()
    return ok


def _rate(fn, pairs) -> float:
    start = time.perf_counter()
    for completion, gold in pairs:
        fn(completion, gold)
    return len(pairs) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1024, help="completions to grade")
    parser.add_argument("--skip-fork", action="store_true", help="skip the slow fork-per-call reference")
    args = parser.parse_args()
    n = args.n
    pairs = [CASES[i % len(CASES)] for i in range(n)]

    def latex(c):  # outer braces stripped, as `reward.grade` does, so no path pays math-verify's nesting cost
        return f"${strip_braces(extract_answer(c, 'boxed'))}$"

    fork = 0.0 if args.skip_fork else _rate(lambda c, g: fork_per_call(f"${g}$", latex(c)), pairs)
    worker = _rate(lambda c, g: math_verify_with_timeout(f"${g}$", latex(c)), pairs)
    fast = _rate(lambda c, g: grade(c, g, "boxed"), pairs)
    print(
        f"{n} completions/s: fork per call {fork:.1f}, persistent worker {worker:.1f}, grade() {fast:.1f}; "
        f"timeouts {TIMEOUTS['count']}"
    )


if __name__ == "__main__":
    main()
