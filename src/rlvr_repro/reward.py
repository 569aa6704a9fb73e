"""Verifiable reward: extract the final answer, grade it against the gold answer (docs/METHODS.md §4).

Extraction depends on the data source's answer format, a property of the source and never a guess
from the completion (`ANSWER_FORMATS`; records carry it as ``answer_format``, written by
`loaders.load_source`; records without it are the synthetic tasks, `DEFAULT_ANSWER_FORMAT`):

* ``boxed`` (MATH and the other LaTeX benchmarks): the last ``\\boxed{...}`` or ``\\fbox{...}``, nothing
  else, so a ``#### Final Answer`` heading is just text;
* ``gsm8k`` (GSM8K and the synthetic tasks, whose solutions end with a ``#### <value>`` line): the last
  ``\\boxed{...}``/``\\fbox{...}`` too when there is one, else the text after the last ``####``.

Grading: two plain numbers (integers, decimals, fractions) are compared exactly without sympy, which is
conclusive. A ``####`` answer (GSM8K's convention is a plain number) that is neither a number nor LaTeX
nor a function name scores 0 against a numeric gold, as it always has. Everything else, every boxed
answer included (``\\boxed{x=5}`` against ``5``), goes through Hugging Face `math-verify` as
``verify(parse(gold), parse(pred))`` (gold first, the order matters) in a persistent forked worker
process with our own timeout (a call that overruns kills the worker, a fresh one takes the next call):
math-verify's built-in timeout uses ``signal.alarm``, which breaks outside the main thread, and a fork
per call cost about 0.13 s. Identical answers are correct without math-verify.
Malformed or endless output scores 0 and never raises; a grader timeout is counted
(`TIMEOUTS`) and logged, so it is never a silent 0.

Lists, sets and tuples (issue 17; a reading, the papers are silent): a comma is a thousands separator
only in ``1,234,567`` form, never elsewhere, so gold ``1, 2`` is never the number 12. A bare
comma-separated gold (MATH's "enter all solutions", ``1, 2``) is a solution set and compares as a
multiset, element by element, in any order; a bracketed gold (``(1, 2)``, ``[0, 1)``) is a tuple or
interval and is left to math-verify, which compares it in order. Scientific notation (``6.3e-5``,
``6.3\\times10^{-26}``, Minerva's golds) is read as an exact number before math-verify, which reads
``e`` as Euler's number. Redundant outer braces (``{{{5}}}``) are stripped before math-verify, whose
parse grows exponentially with the depth (issue 22 point 7).

A gold may be a list of alternatives (Guide's ``reward_model.ground_truth``): the answer is correct if
it matches any of them (`golds_of`); alternatives are never joined into one gold.

Optionally (``format_check``), guide_rl's response format check gates the reward (`format_ok`).
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

ANSWER_FORMATS = ("gsm8k", "boxed")
DEFAULT_ANSWER_FORMAT = "gsm8k"  # the synthetic tasks end with `tasks.FINAL_PREFIX` lines
MAX_ANSWER_CHARS = 200
MAX_TRAILING_WHITESPACE = 3  # guide_rl's format check
_MATH_WORDS = re.compile(r"\\[a-zA-Z]+|sqrt|pi")  # LaTeX commands, and names sympy reads
_MATH_REST = re.compile(r"[\d\s+\-*/^().,{}]*")  # what may stand around them in an expression
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)(/[+-]?\d+)?$")
_BOX_COMMANDS = ("\\boxed{", "\\fbox{")
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")
_SCIENTIFIC = re.compile(
    r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:[eE]|\\times10\^|\\cdot10\^|\*10\^)\{?([+-]?\d+)\}?$"
)
_LOG = logging.getLogger(__name__)
TIMEOUTS = {"count": 0}  # math-verify calls killed at the timeout, in this process


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` or ``\\fbox{...}`` (braces balanced, stripped); None if
    there is none or it is never closed."""
    start = max(text.rfind(command) for command in _BOX_COMMANDS)
    if start < 0:
        return None
    open_at = text.index("{", start)
    depth = 0
    for j in range(open_at, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[open_at + 1 : j].strip()
    return None


def _final_line(text: str) -> str | None:
    if "####" not in text:
        return None
    return text.rsplit("####", 1)[1].split("\n", 1)[0].strip() or None


def _extract(text: str, answer_format: str) -> tuple[str | None, str]:
    """(answer, where it came from: ``boxed`` or ``final-line``)."""
    if answer_format not in ANSWER_FORMATS:
        raise ValueError(f"unknown answer format {answer_format!r}; valid formats: {list(ANSWER_FORMATS)}")
    boxed = last_boxed(text)
    if boxed or answer_format == "boxed":
        return boxed or None, "boxed"
    return _final_line(text), "final-line"


def extract_answer(text: str, answer_format: str = DEFAULT_ANSWER_FORMAT) -> str | None:
    """The completion's final answer under the source's `answer_format` (module docstring), else None."""
    return _extract(text, answer_format)[0]


def format_ok(text: str) -> bool:
    """guide_rl's format check for Qwen-style responses: exactly one ``\\boxed{`` and at most three
    trailing spaces/newlines (``verify_qwen_simple_format`` in
    ``verl/verl/workers/reward_manager/format_grader.py``, run by ``RiftRewardManager`` in ``rift_grader.py``
    when ``scale_reasoning.do_verify_format`` is on: its released Guide-GRPO runs turn it on, its GRPO
    baselines off)."""
    trailing = len(text) - len(text.rstrip(" \n"))
    return text.count("\\boxed{") == 1 and trailing <= MAX_TRAILING_WHITESPACE


def as_number(s: str) -> Fraction | None:
    """An exact number: integer, decimal, fraction, ``1,234`` thousands or scientific notation
    (``6.3e-5``, ``6.3\\times10^{-26}``); None otherwise (``1, 2`` is a list, not 12)."""
    s = s.replace(" ", "").replace("{,}", ",").rstrip(".")
    if "," in s:
        if not _THOUSANDS.match(s):
            return None
        s = s.replace(",", "")
    sci = _SCIENTIFIC.match(s)
    if sci:
        return Fraction(sci.group(1)) * Fraction(10) ** int(sci.group(2))
    if not _NUMBER.match(s):
        return None
    try:
        return Fraction(s)
    except (ValueError, ZeroDivisionError):
        return None


def _math_verify(gold: str, pred: str, conn) -> None:
    import logging

    from math_verify import parse, verify

    logging.getLogger("math_verify").setLevel(logging.ERROR)  # we enforce the timeout ourselves

    try:
        ok = verify(
            parse(gold, parsing_timeout=None), parse(pred, parsing_timeout=None), timeout_seconds=None
        )
    except Exception:  # noqa: BLE001 - any failure of the grader is a wrong answer
        ok = False
    conn.send(bool(ok))


def _serve(conn, grader) -> None:
    """The worker's loop: one (gold, answer) pair in, one verdict out, until the pipe closes."""
    while True:
        try:
            gold, pred = conn.recv()
        except EOFError:
            return
        grader(gold, pred, conn)


class _Worker:
    """One persistent forked math-verify process (issue 22 point 7: a fork per call cost ~0.13 s).
    It is killed and replaced when a call overruns its timeout, dies, or the grader function changed."""

    def __init__(self) -> None:
        import math_verify  # noqa: F401 - imported once here (about 1 s), so the forked worker inherits it

        self.grader, self.pid = _math_verify, os.getpid()
        self.conn, child = mp.get_context("fork").Pipe(duplex=True)
        self.process = mp.get_context("fork").Process(target=_serve, args=(child, self.grader), daemon=True)
        self.process.start()
        child.close()

    def usable(self) -> bool:
        return self.pid == os.getpid() and self.grader is _math_verify and self.process.is_alive()

    def close(self) -> None:
        self.conn.close()
        self.process.kill()
        self.process.join()


_WORKER: list[_Worker] = []  # the process's worker, started on first use
_WORKER_LOCK = threading.Lock()


def _worker() -> _Worker:
    if _WORKER and not _WORKER[0].usable():
        if _WORKER[0].pid == os.getpid():
            _WORKER[0].close()
        _WORKER.clear()
    if not _WORKER:
        _WORKER.append(_Worker())
    return _WORKER[0]


def math_verify_with_timeout(gold: str, pred: str, timeout: float = 5.0) -> bool:
    """math-verify in the persistent worker process; a call that overruns `timeout` kills the worker
    (the next call starts a fresh one), is counted in `TIMEOUTS`, logged and scores False."""
    with _WORKER_LOCK:
        worker = _worker()
        try:
            worker.conn.send((gold, pred))
            finished = worker.conn.poll(timeout)
            ok = bool(worker.conn.recv()) if finished else False
        except (EOFError, OSError, BrokenPipeError):  # the worker died: a wrong answer, a fresh worker next
            finished, ok = True, False
            worker.close()
            _WORKER.clear()
        if not finished:
            TIMEOUTS["count"] += 1
            _LOG.warning(
                "math-verify timed out after %.1f s (gold %r, answer %r): scored 0",
                timeout,
                gold[:80],
                pred[:80],
            )
            worker.close()
            _WORKER.clear()
    return ok


@dataclass(frozen=True)
class Grade:
    """One graded completion: the reward, the extracted answer and guide_rl's format verdict (True
    when the check is off)."""

    reward: float
    extracted: str | None
    format_ok: bool = True


def _symbolic(pred: str) -> bool:
    """A math expression with a LaTeX command or sqrt/pi and nothing but math symbols around them
    (``\\frac{1}{2}``, ``2\\sqrt{3}``), so math-verify can read it; ``1HsN.`` is text, not math."""
    return bool(_MATH_WORDS.search(pred)) and bool(_MATH_REST.fullmatch(_MATH_WORDS.sub("", pred)))


def strip_braces(s: str) -> str:
    """``{{{5}}}`` -> ``5``: drop outer braces that enclose the whole answer, in linear time."""
    s = s.strip()
    while len(s) >= 2 and s[0] == "{" and s[-1] == "}" and _closing(s, 0) == len(s) - 1:
        s = s[1:-1].strip()
    return s


def _closing(s: str, open_at: int) -> int:
    depth = 0
    for j in range(open_at, len(s)):
        depth += {"{": 1, "}": -1}.get(s[j], 0)
        if depth == 0:
            return j
    return -1


def split_top_level(s: str) -> list[str]:
    """Split on commas outside any brackets or braces (``1, \\frac{1}{2}`` -> two parts)."""
    parts, depth, start = [], 0, 0
    for j, ch in enumerate(s):
        depth += 1 if ch in "({[" else -1 if ch in ")}]" else 0
        if ch == "," and depth == 0:
            parts.append(s[start:j].strip())
            start = j + 1
    return [*parts, s[start:].strip()]


def _is_set(gold: str) -> bool:
    """A bare comma list (MATH's "enter all solutions"): top-level commas, not a thousands number."""
    return len(split_top_level(gold)) > 1 and not _THOUSANDS.match(gold.replace(" ", ""))


def _same_set(gold: str, pred: str, timeout: float) -> bool:
    """Multiset equality: every gold element matched by a distinct predicted element (docstring)."""
    golds, preds = split_top_level(gold), split_top_level(pred)
    if len(golds) != len(preds):
        return False
    unused = list(preds)
    for g in golds:
        hit = next((p for p in unused if _equal(g, p, timeout)), None)
        if hit is None:
            return False
        unused.remove(hit)
    return True


def _equal(gold: str, pred: str, timeout: float) -> bool:
    """One answer against one gold: exact numbers first, sets as multisets, else math-verify."""
    gold, pred = strip_braces(gold), strip_braces(pred)
    if gold == pred:
        return True  # the same string: decided without math-verify (issue 22 point 7)
    gold_num, pred_num = as_number(gold), as_number(pred)
    if gold_num is not None and pred_num is not None:
        return gold_num == pred_num
    if _is_set(gold):
        return _same_set(gold, pred, timeout)
    return math_verify_with_timeout(f"${gold}$", f"${pred}$", timeout)


def _match(gold: str, pred: str, where: str, timeout: float) -> bool:
    """`pred` against one gold; a GSM8K final line is a plain number or a math expression, not text."""
    gold_num, pred_num = as_number(gold), as_number(pred)
    if where == "final-line" and gold_num is not None and pred_num is None and not _symbolic(pred):
        return False
    return _equal(gold, pred, timeout)


def golds_of(gold: str | Sequence[str]) -> list[str]:
    """The gold alternatives: a string is one gold, a list or tuple several, any of which is correct
    (Guide's ``reward_model.ground_truth`` lists, `loaders.answer_alternatives`)."""
    if isinstance(gold, str):
        return [gold]
    golds = [str(g) for g in gold]
    if not golds:
        raise ValueError("empty list of gold alternatives")
    return golds


def judge(completion: str, gold: str | Sequence[str], answer_format: str = DEFAULT_ANSWER_FORMAT,
          format_check: bool = False, timeout: float = 5.0) -> Grade:  # fmt: skip
    """Grade one completion (module docstring) against `gold`, a string or a list of alternatives
    (correct if it matches any). With `format_check`, a completion that fails `format_ok` scores 0,
    as guide_rl grades it as an empty response."""
    golds = golds_of(gold)
    pred, where = _extract(completion, answer_format)
    formatted = format_ok(completion) if format_check else True
    if not formatted or pred is None or len(pred) > MAX_ANSWER_CHARS:
        return Grade(0.0, pred, formatted)
    return Grade(float(any(_match(g, pred, where, timeout) for g in golds)), pred)


def grade(completion: str, gold: str | Sequence[str], answer_format: str = DEFAULT_ANSWER_FORMAT, format_check: bool = False,
          timeout: float = 5.0) -> float:  # fmt: skip
    """1.0 if the completion's final answer equals `gold`, else 0.0 (`judge`'s reward)."""
    return judge(completion, gold, answer_format, format_check, timeout).reward


def make_reward(format_check: bool = False):
    """TRL reward function named ``correct``: `answer` is the dataset column of gold answers, an
    ``answers`` column (when the dataset has one) each row's list of gold alternatives, which then
    replaces `answer` (`loaders.answer_alternatives`), and an ``answer_format`` column the source's
    answer format per row."""

    def correct(prompts, completions, answer, answer_format=None, answers=None, **kwargs) -> list[float]:
        formats = answer_format or [DEFAULT_ANSWER_FORMAT] * len(answer)
        golds = [alts or a for a, alts in zip(answer, answers, strict=True)] if answers else answer
        return [
            grade(c if isinstance(c, str) else c[-1]["content"], a, f or DEFAULT_ANSWER_FORMAT, format_check)
            for c, a, f in zip(completions, golds, formats, strict=False)
        ]

    return correct


correctness_reward = make_reward()
