"""Deterministic synthetic reasoning tasks with verifiable integer answers.

Two families, ``arith`` and ``geometry``, each a generator ``make_<family>(difficulty, rng)`` returning
``{"question", "solution", "answer", "hint"}``. Formats, fixed because the reward function and trainer
rely on them:

* prompt = ``"Q: " + question + ANSWER_CUE``;
* solution = step lines, then a final line ``"#### <answer>"`` (the GSM8K convention); every step line is
  ``[label = ]expr = expr = ... = value`` and each rewrite does one operation (leftmost innermost
  parenthesis first, then leftmost ``*``/``/``, then leftmost ``+``/``-``), except that Pythagoras
  squares both sides at once (``6*6+8*8 = 36+64 = 100`` then ``sqrt(100) = 10``);
* hint = the first half of the step lines; within a single step line, the first half of its rewrites;
  so never the result. One-operation arith gets a place-value split instead (47+8 = 40+15) and
  one-operation geometry the bare formula (area = 7*12);
* answers are integers written as strings.

All text is printable ASCII plus newlines, because the models are character level.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from collections import Counter, defaultdict
from pathlib import Path

from rlvr_repro.jsonl import write_jsonl

ANSWER_CUE = "\nA: "
HINT_TAG = "\nHint: "
CHAT_ASSISTANT_TURN = "<|im_end|>\n<|im_start|>assistant\n"  # ends chat prompts (see with_hint)
CHAT_PROBLEM_CUE = "<|im_start|>user\nProblem: "  # precedes the problem in chat prompts (see with_hint)
FINAL_PREFIX = "#### "
HELD_OUT_SPLITS = ("test", "ood")
MAX_MISSES = 2000  # consecutive duplicate draws before a level is declared too small for the request
ARITH_LIMIT = 1000  # every arith value, intermediate ones included, has |x| < ARITH_LIMIT
_MAX_TRIES = 10_000  # rejection-sampling bound for one arith problem

_TOKEN = re.compile(r"\d+|[-+*/()]")
_EXPRESSION = re.compile(r"\(*\d+\)*(?:[-+*/]\(*\d+\)*)*")


# --- prompts ---------------------------------------------------------------------------------------------


def make_prompt(question: str) -> str:
    """The prompt the model sees: ``"Q: " + question + ANSWER_CUE``."""
    return "Q: " + question + ANSWER_CUE


def with_hint(prompt: str, hint: str) -> str:
    """The Guide-GRPO re-prompt of ``prompt`` with ``hint`` (docs/METHODS.md §2).

    Plain prompts (the synthetic tasks, ``loaders.TEMPLATES["plain"]``) end with ANSWER_CUE:
    ``"\\nHint: " + hint`` goes right before it.

    Chat prompts (``loaders.TEMPLATES["qwen-math-chat"]``) end with CHAT_ASSISTANT_TURN and hold the
    problem between CHAT_PROBLEM_CUE and that ending. Their hint is the whole hinted problem statement,
    the layout of the last message of Guide's ``hint`` column, and it replaces the problem: guide_rl
    formats its chat template with that message's content (``verl/utils/dataset/rl_dataset.py``,
    ``RLHFDataset.__getitem__``, ``hint_input_ids``). An empty hint leaves a chat prompt unchanged.
    """
    if prompt.endswith(ANSWER_CUE):
        return prompt[: -len(ANSWER_CUE)] + HINT_TAG + hint + ANSWER_CUE
    if prompt.endswith(CHAT_ASSISTANT_TURN) and CHAT_PROBLEM_CUE in prompt:
        if not hint:
            return prompt
        return prompt[: prompt.index(CHAT_PROBLEM_CUE) + len(CHAT_PROBLEM_CUE)] + hint + CHAT_ASSISTANT_TURN
    raise ValueError(
        f"prompt does not end with the answer cue {ANSWER_CUE!r} or hold a chat problem "
        f"({CHAT_PROBLEM_CUE!r} ... {CHAT_ASSISTANT_TURN!r}): {prompt!r}"
    )


# --- one-operation-at-a-time rewriting -------------------------------------------------------------------


def _balanced(expr: str) -> bool:
    depth = 0
    for char in expr:
        depth += (char == "(") - (char == ")")
        if depth < 0:
            return False
    return depth == 0


def _tokenize(expr: str) -> list:
    """Split a non-negative integer expression into ints and the strings ``+ - * / ( )``."""
    if not _EXPRESSION.fullmatch(expr) or not _balanced(expr):
        raise ValueError(f"not an expression of non-negative integers, + - * / and parentheses: {expr!r}")
    return [int(p) if p.isdigit() else p for p in _TOKEN.findall(expr)]


def _fmt(tokens: list) -> str:
    return "".join(str(t) for t in tokens)


def _apply(a: int, op: str, b: int) -> int:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0 or a % b:
        raise ValueError(f"{a}/{b} is not an exact integer division")
    return a // b


def _reduce_once(tokens: list, slip: int = 0) -> list:
    """Do one operation: in the first innermost parenthesis (else the whole expression), the leftmost
    ``*``/``/`` if any, else the leftmost ``+``/``-``; drop the parentheses once they hold one number.
    ``slip`` is added to the operation's result (a wrong step; see `slipped_solution`)."""
    close = tokens.index(")") if ")" in tokens else len(tokens)
    start = max((i for i in range(close) if tokens[i] == "("), default=-1)
    group = tokens[start + 1 : close]
    ops = [i for i, t in enumerate(group) if t in ("*", "/")] or [
        i for i, t in enumerate(group) if t in ("+", "-")
    ]
    if ops:
        i = ops[0]
        group = group[: i - 1] + [_apply(group[i - 1], group[i], group[i + 1]) + slip] + group[i + 2 :]
    if len(group) == 1 and start >= 0:
        return tokens[:start] + group + tokens[close + 1 :]
    return tokens[: start + 1] + group + tokens[close:]


def _reduce_all(tokens: list) -> list[list]:
    """All rewrites of ``tokens`` down to a single number, the original first."""
    steps = [tokens]
    while len(steps[-1]) > 1:
        steps.append(_reduce_once(steps[-1]))
    return steps


def slipped_solution(expr: str, step: int, slip: int, bound: int = 10) -> str | None:
    """The arith solution of ``expr`` with operation number ``step`` (0-based) off by ``slip``, reduced
    honestly from there on: a demonstration with one arithmetic slip, whose final line is wrong.

    >>> slipped_solution("1+2*3", 0, 1)
    '1+2*3 = 1+7 = 8\\n#### 8'

    None when a value leaves [0, bound) (the level's range) or the slip cancels out.
    """
    steps = [_tokenize(expr)]
    while len(steps[-1]) > 1:
        steps.append(_reduce_once(steps[-1], slip if len(steps) - 1 == step else 0))
    values = [t for tokens in steps for t in tokens if isinstance(t, int)]
    answer = steps[-1][0]
    if not all(0 <= v < bound for v in values) or answer == _reduce_all(steps[0])[-1][0]:
        return None
    return " = ".join(_fmt(t) for t in steps) + "\n" + FINAL_PREFIX + str(answer)


def add_slips(rows: list[dict], rate: float, rng: random.Random) -> int:
    """Give a share ``rate`` of the arith rows a solution with one slip (`slipped_solution`); the record's
    ``answer`` stays the true one. Returns the number of rows changed.

    The toy's stand-in for noisy demonstrations: the SFT start then slips at a steady rate that RL with a
    verifiable reward can remove, which is the regime the papers study (a policy that can solve a problem
    but not reliably). Knob: ``data.splits.<split>.slip``.
    """
    changed = 0
    for row in rows:
        if row["family"] != "arith" or rng.random() >= rate:
            continue
        expr = row["prompt"].removeprefix("Q: What is ").removesuffix("?" + ANSWER_CUE)
        n_ops = len(re.findall(r"[-+*]", expr))
        tries = [(k, d) for k in range(n_ops) for d in (-2, -1, 1, 2)]
        rng.shuffle(tries)
        for k, d in tries:
            solution = slipped_solution(expr, k, d)
            if solution is not None:
                row["solution"], changed = solution, changed + 1
                break
    return changed


def rewrite_chain(expr: str) -> list[str]:
    """The successive rewrites of ``expr``, one operation each: ``"3+4*2-5"`` -> ``["3+4*2-5", "3+8-5",
    "11-5", "6"]``."""
    return [_fmt(step) for step in _reduce_all(_tokenize(expr))]


def _first_half(chain: list[str]) -> str:
    """The first half of a rewrite chain's rewrites (none for one): ``a = b = c = d`` -> ``a = b``."""
    return " = ".join(chain[: (len(chain) - 1) // 2 + 1])


# --- arith -----------------------------------------------------------------------------------------------

_TENS_AND_UNITS = tuple(a for a in range(11, 100) if a % 10)
IN_DISTRIBUTION_MAX_LEVEL = 4


def _arith_shape(level: int) -> tuple[int, range, int]:
    """(number of operations, operand pool, bound on every value) for an arith level.

    Levels 1-4 are chains of level+1 operations whose every value (operands and intermediate results)
    is a single digit, so each step is one of ~130 one-digit facts a tiny model can learn and the
    difficulty is the chain's length. OOD levels (5+) are longer still and let values reach two
    digits, which the SFT data never shows.
    """
    if level <= IN_DISTRIBUTION_MAX_LEVEL:
        return level + 1, range(1, 10), 10
    return level + 1, range(1, 10), 100


def _one_step_hint(a: int, op: str, b: int) -> str:
    """A place-value split of ``a op b`` that leaves one easier operation: 47+8 = 40+15, 47*8 = 320+56."""
    tens, units = a - a % 10, a % 10
    if a < 10 or units == 0:
        raise ValueError(f"a one-operation problem needs a first operand with tens and units, got {a}")
    if op == "+":
        rest = f"{tens}+{units + b}"
    elif op == "-":
        rest = f"{tens}+{units - b}" if units >= b else f"{tens}-{b - units}"
    else:
        rest = f"{tens * b}+{units * b}"
    return f"{a}{op}{b} = {rest}"


def arith_problem(expr: str) -> dict:
    """The question, solution, answer and hint for non-negative integers joined by ``+ - *``.

    >>> arith_problem("3+4*2-5")["solution"]
    '3+4*2-5 = 3+8-5 = 11-5 = 6\\n#### 6'
    """
    if not re.fullmatch(r"\d+(?:[-+*]\d+)+", expr):
        raise ValueError(f"expected integers joined by + - * (at least one operation), got {expr!r}")
    steps = _reduce_all(_tokenize(expr))
    chain = [_fmt(step) for step in steps]
    answer = str(steps[-1][0])
    if len(steps) == 2:
        hint = _one_step_hint(*steps[0])
    else:
        hint = _first_half(chain)
    return {
        "question": f"What is {expr}?",
        "solution": " = ".join(chain) + "\n" + FINAL_PREFIX + answer,
        "answer": answer,
        "hint": hint,
    }


def make_arith(difficulty: int, rng: random.Random) -> dict:
    """Integer arithmetic with difficulty+1 operations among + - *, every value in [0, bound) (see
    `_arith_shape`); precedence is respected and each step of the solution rewrites the expression."""
    if difficulty < 1:
        raise ValueError(f"arith difficulty must be >= 1, got {difficulty}")
    n_ops, operands, bound = _arith_shape(difficulty)
    for _ in range(_MAX_TRIES):
        tokens = [rng.choice(operands)]
        for _ in range(n_ops):
            tokens += [rng.choice("+-*"), rng.choice(operands)]
        values = [t for step in _reduce_all(tokens) for t in step if isinstance(t, int)]
        if all(0 <= v < bound for v in values):
            return arith_problem(_fmt(tokens))
    raise RuntimeError(
        f"no arith problem of difficulty {difficulty} within [0, {bound}) after {_MAX_TRIES} draws"
    )


# --- geometry --------------------------------------------------------------------------------------------

_TRIPLES = tuple(
    (a, b, c) for c in range(5, 31) for a in range(3, c) for b in range(a + 1, c) if a * a + b * b == c * c
)
_REGULAR_SIDES = tuple(n for n in range(3, 37) if 360 % n == 0)


def _say(rng: random.Random, phrasings: tuple[str, ...], **values: int) -> str:
    return rng.choice(phrasings).format(**values)


def _line(label: str, expr: str) -> tuple[str, int]:
    """One step line ``label = expr = ... = value`` and its value."""
    steps = _reduce_all(_tokenize(expr))
    return f"{label} = " + " = ".join(_fmt(step) for step in steps), steps[-1][0]


def _hyp_lines(a: int, b: int) -> tuple[list[str], int]:
    """Pythagoras for the hypotenuse: two lines and c."""
    s = a * a + b * b
    c = math.isqrt(s)
    return [f"{a}*{a}+{b}*{b} = {a * a}+{b * b} = {s}", f"sqrt({s}) = {c}"], c


def _leg_lines(c: int, a: int) -> tuple[list[str], int]:
    """Pythagoras for a leg: two lines and the other leg."""
    s = c * c - a * a
    b = math.isqrt(s)
    return [f"{c}*{c}-{a}*{a} = {c * c}-{a * a} = {s}", f"sqrt({s}) = {b}"], b


def _triple(rng: random.Random) -> tuple[int, int, int]:
    """A Pythagorean triple (legs in random order, hypotenuse last) with hypotenuse <= 30."""
    a, b, c = rng.choice(_TRIPLES)
    return (b, a, c) if rng.random() < 0.5 else (a, b, c)


def _even_product(rng: random.Random, lo: int, hi: int) -> tuple[int, int]:
    """Two ints in [lo, hi] whose product is even."""
    x, y = rng.randint(lo, hi), rng.randint(lo, hi)
    return (x, y) if x * y % 2 == 0 else (x, y + 1 if y < hi else y - 1)


# Each template returns (question, step lines, answer); its level is its number of step lines.


def _g_third_angle(rng):
    a = rng.randint(20, 110)
    b = rng.randint(20, 160 - a)
    q = _say(
        rng,
        (
            "A triangle has angles of {a} and {b} degrees. Find the third angle.",
            "Two angles of a triangle are {a} and {b} degrees. What is the third?",
            "In triangle ABC, A = {a} and B = {b} degrees. Find C.",
        ),
        a=a,
        b=b,
    )
    line, ans = _line("angle", f"180-{a}-{b}")
    return q, [line], ans


def _g_rect_area(rng):
    w, h = rng.randint(2, 25), rng.randint(2, 25)
    q = _say(
        rng,
        ("A rectangle is {w} by {h}. What is its area?", "Find the area of a {w} by {h} rectangle."),
        w=w,
        h=h,
    )
    line, ans = _line("area", f"{w}*{h}")
    return q, [line], ans


def _g_rect_perimeter(rng):
    w, h = rng.randint(2, 40), rng.randint(2, 40)
    q = _say(
        rng,
        (
            "A rectangle has sides {w} and {h}. What is its perimeter?",
            "Find the perimeter of a {w} by {h} rectangle.",
        ),
        w=w,
        h=h,
    )
    line, ans = _line("perim", f"2*({w}+{h})")
    return q, [line], ans


def _g_triangle_area(rng):
    b, h = _even_product(rng, 2, 30)
    q = _say(
        rng,
        (
            "A triangle has base {b} and height {h}. What is its area?",
            "Find the area of a triangle with base {b}, height {h}.",
        ),
        b=b,
        h=h,
    )
    line, ans = _line("area", f"{b}*{h}/2")
    return q, [line], ans


def _g_trapezoid_area(rng):
    a, b = rng.randint(2, 20), rng.randint(2, 20)
    h = rng.randint(2, 12)
    h += (a + b) * h % 2
    q = _say(
        rng,
        (
            "A trapezoid has parallel sides {a} and {b} and height {h}. Find its area.",
            "Find the area of a trapezoid with bases {a} and {b} and height {h}.",
        ),
        a=a,
        b=b,
        h=h,
    )
    line, ans = _line("area", f"({a}+{b})*{h}/2")
    return q, [line], ans


def _g_angle_sum(rng):
    n = rng.randint(5, 12)
    q = _say(
        rng,
        (
            "What is the sum of the interior angles of a {n}-sided polygon?",
            "A polygon has {n} sides. What do its interior angles add up to?",
        ),
        n=n,
    )
    line, ans = _line("sum", f"({n}-2)*180")
    return q, [line], ans


def _g_exterior_angle(rng):
    e = rng.randint(60, 170)
    a = rng.randint(20, e - 20)
    q = _say(
        rng,
        (
            "An exterior angle of a triangle is {e} degrees. One opposite interior angle is {a}. Find the other.",
            "A triangle's exterior angle is {e}; one of the two opposite inner angles is {a}. Find the other.",
        ),
        e=e,
        a=a,
    )
    line, ans = _line("angle", f"{e}-{a}")
    return q, [line], ans


def _g_hypotenuse(rng):
    a, b, _ = _triple(rng)
    q = _say(
        rng,
        (
            "A right triangle has legs {a} and {b}. How long is the hypotenuse?",
            "The legs of a right triangle are {a} and {b}. Find the hypotenuse.",
        ),
        a=a,
        b=b,
    )
    lines, c = _hyp_lines(a, b)
    return q, lines, c


def _g_leg(rng):
    a, _, c = _triple(rng)
    q = _say(
        rng,
        (
            "A right triangle has hypotenuse {c} and one leg {a}. Find the other leg.",
            "The hypotenuse of a right triangle is {c} and a leg is {a}. How long is the other leg?",
        ),
        a=a,
        c=c,
    )
    lines, b = _leg_lines(c, a)
    return q, lines, b


def _g_area_from_perimeter(rng):
    w, h = rng.randint(2, 25), rng.randint(2, 25)
    p = 2 * (w + h)
    q = _say(
        rng,
        (
            "A rectangle has perimeter {p} and width {w}. What is its area?",
            "Find the area of a rectangle with perimeter {p} and width {w}.",
        ),
        p=p,
        w=w,
    )
    first, length = _line("len", f"{p}/2-{w}")
    second, ans = _line("area", f"{length}*{w}")
    return q, [first, second], ans


def _g_perimeter_from_area(rng):
    w, h = rng.randint(2, 20), rng.randint(2, 20)
    q = _say(
        rng,
        (
            "A rectangle has area {s} and width {w}. What is its perimeter?",
            "Find the perimeter of a rectangle with area {s} and width {w}.",
        ),
        s=w * h,
        w=w,
    )
    first, length = _line("len", f"{w * h}/{w}")
    second, ans = _line("perim", f"2*({length}+{w})")
    return q, [first, second], ans


def _g_base_angle(rng):
    t = 2 * rng.randint(10, 80)
    q = _say(
        rng,
        (
            "An isosceles triangle has a top angle of {t} degrees. Find each base angle.",
            "The vertex angle of an isosceles triangle is {t} degrees. What is each base angle?",
        ),
        t=t,
    )
    first, both = _line("both", f"180-{t}")
    second, ans = _line("each", f"{both}/2")
    return q, [first, second], ans


def _g_similar_side(rng):
    a, k, b = rng.randint(2, 12), rng.randint(2, 6), rng.randint(2, 15)
    q = _say(
        rng,
        (
            "Triangles ABC and DEF are similar. AB = {a}, DE = {d}, BC = {b}. Find EF.",
            "ABC is similar to DEF with AB = {a} and DE = {d}. If BC = {b}, what is EF?",
        ),
        a=a,
        d=a * k,
        b=b,
    )
    first, scale = _line("scale", f"{a * k}/{a}")
    second, ans = _line("EF", f"{b}*{scale}")
    return q, [first, second], ans


def _g_regular_interior(rng):
    n = rng.choice(_REGULAR_SIDES)
    q = _say(
        rng,
        (
            "What is each interior angle of a regular polygon with {n} sides?",
            "A regular polygon has {n} sides. Find one interior angle.",
        ),
        n=n,
    )
    first, ext = _line("ext", f"360/{n}")
    second, ans = _line("each", f"180-{ext}")
    return q, [first, second], ans


def _g_square_area(rng):
    s = rng.randint(2, 30)
    q = _say(
        rng,
        (
            "A square has perimeter {p}. What is its area?",
            "Find the area of a square whose perimeter is {p}.",
        ),
        p=4 * s,
    )
    first, side = _line("side", f"{4 * s}/4")
    second, ans = _line("area", f"{side}*{side}")
    return q, [first, second], ans


def _g_right_perimeter(rng):
    a, b, _ = _triple(rng)
    q = _say(
        rng,
        (
            "A right triangle has legs {a} and {b}. What is its perimeter?",
            "Find the perimeter of a right triangle with legs {a} and {b}.",
        ),
        a=a,
        b=b,
    )
    lines, c = _hyp_lines(a, b)
    last, ans = _line("perim", f"{a}+{b}+{c}")
    return q, [*lines, last], ans


def _g_right_area(rng):
    a, _, c = _triple(rng)
    q = _say(
        rng,
        (
            "A right triangle has hypotenuse {c} and one leg {a}. What is its area?",
            "Find the area of a right triangle with hypotenuse {c} and a leg of {a}.",
        ),
        a=a,
        c=c,
    )
    lines, b = _leg_lines(c, a)
    last, ans = _line("area", f"{a}*{b}/2")
    return q, [*lines, last], ans


def _g_diagonal_from_area(rng):
    w, h, _ = _triple(rng)
    q = _say(
        rng,
        (
            "A rectangle has area {s} and width {w}. How long is its diagonal?",
            "Find the diagonal of a rectangle with area {s} and width {w}.",
        ),
        s=w * h,
        w=w,
    )
    first, length = _line("len", f"{w * h}/{w}")
    lines, ans = _hyp_lines(length, w)
    return q, [first, *lines], ans


def _g_cutout(rng):
    w, h = rng.randint(6, 25), rng.randint(6, 25)
    a, b = rng.randint(2, w - 2), rng.randint(2, h - 2)
    q = _say(
        rng,
        (
            "A {w} by {h} rectangle has a {a} by {b} corner cut out. What area is left?",
            "From a {w} by {h} rectangle, a {a} by {b} corner is removed. Find the remaining area.",
        ),
        w=w,
        h=h,
        a=a,
        b=b,
    )
    first, whole = _line("whole", f"{w}*{h}")
    second, cut = _line("cut", f"{a}*{b}")
    third, ans = _line("left", f"{whole}-{cut}")
    return q, [first, second, third], ans


def _g_similar_area(rng):
    a, k, s = rng.randint(2, 10), rng.randint(2, 4), rng.randint(3, 40)
    q = _say(
        rng,
        (
            "Similar triangles ABC and DEF have AB = {a} and DE = {d}. ABC has area {s}. Find the area of DEF.",
            "ABC is similar to DEF, AB = {a}, DE = {d}. The area of ABC is {s}. What is the area of DEF?",
        ),
        a=a,
        d=a * k,
        s=s,
    )
    first, scale = _line("scale", f"{a * k}/{a}")
    second, ratio = _line("ratio", f"{scale}*{scale}")
    third, ans = _line("area", f"{s}*{ratio}")
    return q, [first, second, third], ans


def _g_house(rng):
    w, t = _even_product(rng, 2, 20)
    h = rng.randint(2, 20)
    q = _say(
        rng,
        (
            "A {w} by {h} rectangle has a triangle of base {w} and height {t} on top. What is the total area?",
            "A house shape is a {w} by {h} rectangle with a roof triangle of base {w}, height {t}. Find its area.",
        ),
        w=w,
        h=h,
        t=t,
    )
    first, walls = _line("walls", f"{w}*{h}")
    second, roof = _line("roof", f"{w}*{t}/2")
    third, ans = _line("area", f"{walls}+{roof}")
    return q, [first, second, third], ans


def _g_angle_sum_from_interior(rng):
    n = rng.choice(_REGULAR_SIDES)
    q = _say(
        rng,
        (
            "Each interior angle of a regular polygon is {i} degrees. What is the sum of its angles?",
            "A regular polygon has interior angles of {i} degrees. Find their sum.",
        ),
        i=180 - 360 // n,
    )
    first, ext = _line("ext", f"180-{180 - 360 // n}")
    second, sides = _line("sides", f"360/{ext}")
    third, ans = _line("sum", f"({sides}-2)*180")
    return q, [first, second, third], ans


def _g_diagonal_triangle(rng):
    w, h, _ = _triple(rng)
    q = _say(
        rng,
        (
            "A rectangle has perimeter {p} and width {w}. A diagonal cuts it in two. Find one triangle's perimeter.",
            "A diagonal splits a rectangle of perimeter {p} and width {w} into triangles. Perimeter of one?",
        ),
        p=2 * (w + h),
        w=w,
    )
    first, length = _line("len", f"{2 * (w + h)}/2-{w}")
    lines, d = _hyp_lines(length, w)
    last, ans = _line("perim", f"{w + h}+{d}")
    return q, [first, *lines, last], ans


def _g_cutout_from_perimeter(rng):
    w, h = rng.randint(6, 25), rng.randint(6, 25)
    s = rng.randint(2, min(w, h) - 2)
    q = _say(
        rng,
        (
            "A rectangle with perimeter {p} and width {w} has a {s} by {s} corner cut out. What area is left?",
            "From a rectangle of perimeter {p} and width {w}, a square of side {s} is removed. Area left?",
        ),
        p=2 * (w + h),
        w=w,
        s=s,
    )
    first, length = _line("len", f"{2 * (w + h)}/2-{w}")
    second, whole = _line("whole", f"{length}*{w}")
    third, cut = _line("cut", f"{s}*{s}")
    last, ans = _line("left", f"{whole}-{cut}")
    return q, [first, second, third, last], ans


def _g_similar_hypotenuse(rng):
    a, b, c = _triple(rng)
    k = rng.randint(2, 4)
    q = _say(
        rng,
        (
            "A right triangle has legs {a} and {b}. A similar one has {ka} in place of {a}. Find its hypotenuse.",
            "Right triangle legs are {a} and {b}. A similar triangle's leg matching {a} is {ka}. Its hypotenuse?",
        ),
        a=a,
        b=b,
        ka=k * a,
    )
    first, scale = _line("scale", f"{k * a}/{a}")
    lines, c = _hyp_lines(a, b)
    last, ans = _line("hyp", f"{c}*{scale}")
    return q, [first, *lines, last], ans


def _square_house_lines(s: int, t: int) -> tuple[list[str], int]:
    """Area of a square of perimeter 4*s with a triangle of height t on top: four lines."""
    first, side = _line("side", f"{4 * s}/4")
    second, square = _line("square", f"{side}*{side}")
    third, roof = _line("roof", f"{side}*{t}/2")
    last, area = _line("area", f"{square}+{roof}")
    return [first, second, third, last], area


def _house_sizes(rng: random.Random) -> tuple[int, int]:
    """Square side and roof height with an even product (so the roof area is an integer)."""
    s, t = rng.randint(2, 20), rng.randint(2, 20)
    return s, t + s * t % 2


def _g_square_house(rng):
    s, t = _house_sizes(rng)
    q = _say(
        rng,
        (
            "A square with perimeter {p} has a triangle of height {t} on top. What is the total area?",
            "A triangle of height {t} sits on top of a square of perimeter {p}. Find the total area.",
        ),
        p=4 * s,
        t=t,
    )
    lines, ans = _square_house_lines(s, t)
    return q, lines, ans


def _g_frame(rng):
    w, h, d = rng.randint(5, 20), rng.randint(5, 20), rng.randint(1, 5)
    q = _say(
        rng,
        (
            "A {w} by {h} photo has a border {d} wide all around it. What is the area of the border?",
            "A border of width {d} surrounds a {w} by {h} photo. Find the area of the border.",
        ),
        w=w,
        h=h,
        d=d,
    )
    first, outer_w = _line("long", f"{w}+2*{d}")
    second, outer_h = _line("wide", f"{h}+2*{d}")
    third, outer = _line("outer", f"{outer_w}*{outer_h}")
    fourth, inner = _line("photo", f"{w}*{h}")
    last, ans = _line("border", f"{outer}-{inner}")
    return q, [first, second, third, fourth, last], ans


def _g_similar_perimeter(rng):
    a, b, _ = _triple(rng)
    k = rng.randint(2, 5)
    q = _say(
        rng,
        (
            "A right triangle has legs {a} and {b}. A similar one has {ka} in place of {a}. Find its perimeter.",
            "Right triangle legs are {a} and {b}. A similar triangle's leg matching {a} is {ka}. Its perimeter?",
        ),
        a=a,
        b=b,
        ka=k * a,
    )
    first, scale = _line("scale", f"{k * a}/{a}")
    lines, c = _hyp_lines(a, b)
    fourth, small = _line("small", f"{a}+{b}+{c}")
    last, ans = _line("large", f"{small}*{scale}")
    return q, [first, *lines, fourth, last], ans


def _g_similar_diagonal(rng):
    w, h, _ = _triple(rng)
    k = rng.randint(2, 4)
    q = _say(
        rng,
        (
            "A rectangle has perimeter {p} and width {w}. A similar rectangle has width {kw}. Find its diagonal.",
            "Rectangle R has perimeter {p} and width {w}. How long is the diagonal of a similar one of width {kw}?",
        ),
        p=2 * (w + h),
        w=w,
        kw=k * w,
    )
    first, length = _line("len", f"{2 * (w + h)}/2-{w}")
    second, scale = _line("scale", f"{k * w}/{w}")
    lines, d = _hyp_lines(length, w)
    last, ans = _line("diag", f"{d}*{scale}")
    return q, [first, second, *lines, last], ans


def _g_two_triangles(rng):
    a, b, c = _triple(rng)
    d = 2 * rng.randint(1, 15)
    q = _say(
        rng,
        (
            "Right triangle T has legs {a} and {b}. Right triangle U has legs equal to T's hypotenuse and {d}. Total area?",
            "Triangle T has legs {a}, {b}; triangle U has legs {d} and the hypotenuse of T. Both are right. Sum of areas?",
        ),
        a=a,
        b=b,
        d=d,
    )
    lines, c = _hyp_lines(a, b)
    third, first_area = _line("T", f"{a}*{b}/2")
    fourth, second_area = _line("U", f"{c}*{d}/2")
    last, ans = _line("total", f"{first_area}+{second_area}")
    return q, [*lines, third, fourth, last], ans


def _g_scaled_house(rng):
    s, t = _house_sizes(rng)
    k = rng.randint(2, 4)
    q = _say(
        rng,
        (
            "A triangle of height {t} sits on a square of perimeter {p}. What is the area of a copy scaled by {k}?",
            "A square of perimeter {p} has a triangle of height {t} on top. Scale it by {k}. What is its area?",
        ),
        p=4 * s,
        t=t,
        k=k,
    )
    lines, area = _square_house_lines(s, t)
    fifth, ratio = _line("ratio", f"{k}*{k}")
    last, ans = _line("large", f"{area}*{ratio}")
    return q, [*lines, fifth, last], ans


def _g_similar_area_from_hypotenuse(rng):
    a, b, c = _triple(rng)
    k = rng.randint(2, 4)
    q = _say(
        rng,
        (
            "A right triangle has hypotenuse {c} and leg {a}. A similar one has hypotenuse {kc}. Find its area.",
            "Right triangle: hypotenuse {c}, one leg {a}. What is the area of a similar one with hypotenuse {kc}?",
        ),
        a=a,
        c=c,
        kc=k * c,
    )
    lines, b = _leg_lines(c, a)
    third, area = _line("area", f"{a}*{b}/2")
    fourth, scale = _line("scale", f"{k * c}/{c}")
    fifth, ratio = _line("ratio", f"{scale}*{scale}")
    last, ans = _line("large", f"{area}*{ratio}")
    return q, [*lines, third, fourth, fifth, last], ans


def _g_similar_diagonal_triangle(rng):
    w, h, _ = _triple(rng)
    k = rng.randint(2, 4)
    q = _say(
        rng,
        (
            "Rectangle R has perimeter {p} and width {w}. A similar one of width {kw} is cut along a diagonal. "
            "Perimeter of a half?",
            "A rectangle has perimeter {p}, width {w}. A diagonal halves a similar one of width {kw}. "
            "A half's perimeter?",
        ),
        p=2 * (w + h),
        w=w,
        kw=k * w,
    )
    first, length = _line("len", f"{2 * (w + h)}/2-{w}")
    lines, d = _hyp_lines(length, w)
    fourth, small = _line("small", f"{w + h}+{d}")
    fifth, scale = _line("scale", f"{k * w}/{w}")
    last, ans = _line("large", f"{small}*{scale}")
    return q, [first, *lines, fourth, fifth, last], ans


GEOMETRY_TEMPLATES = {
    1: (
        _g_third_angle,
        _g_rect_area,
        _g_rect_perimeter,
        _g_triangle_area,
        _g_trapezoid_area,
        _g_angle_sum,
        _g_exterior_angle,
    ),
    2: (
        _g_hypotenuse,
        _g_leg,
        _g_area_from_perimeter,
        _g_perimeter_from_area,
        _g_base_angle,
        _g_similar_side,
        _g_regular_interior,
        _g_square_area,
    ),
    3: (
        _g_right_perimeter,
        _g_right_area,
        _g_diagonal_from_area,
        _g_cutout,
        _g_similar_area,
        _g_house,
        _g_angle_sum_from_interior,
    ),
    4: (_g_diagonal_triangle, _g_cutout_from_perimeter, _g_similar_hypotenuse, _g_square_house),
    5: (_g_frame, _g_similar_perimeter, _g_similar_diagonal, _g_two_triangles),
    6: (_g_scaled_house, _g_similar_area_from_hypotenuse, _g_similar_diagonal_triangle),
}


def make_geometry(difficulty: int, rng: random.Random) -> dict:
    """A geometry word problem whose solution has ``difficulty`` step lines (levels 1..6)."""
    templates = GEOMETRY_TEMPLATES.get(difficulty)
    if templates is None:
        raise ValueError(f"geometry difficulty must be one of {sorted(GEOMETRY_TEMPLATES)}, got {difficulty}")
    question, lines, answer = rng.choice(templates)(rng)
    if len(lines) == 1:
        label, *chain = lines[0].split(" = ")
        hint = f"{label} = {_first_half(chain)}"
    else:
        hint = "\n".join(lines[: len(lines) // 2])
    return {
        "question": question,
        "solution": "\n".join(lines) + "\n" + FINAL_PREFIX + str(answer),
        "answer": str(answer),
        "hint": hint,
    }


FAMILIES = {"arith": make_arith, "geometry": make_geometry}


# --- splits ----------------------------------------------------------------------------------------------


def _rng(*parts) -> random.Random:
    """A Random seeded from ``"-".join(parts)`` through SHA-256 (stable across runs, unlike hash())."""
    key = "-".join(str(p) for p in parts).encode()
    return random.Random(int.from_bytes(hashlib.sha256(key).digest()[:8], "big"))


def _check_family(family: str) -> None:
    if family not in FAMILIES:
        raise ValueError(f"unknown task family {family!r}; valid families: {', '.join(sorted(FAMILIES))}")


def _split_levels(name: str, spec: dict) -> tuple[int, range]:
    """Validate one split spec; return its size and its inclusive difficulty range."""
    if not isinstance(spec, dict):
        raise ValueError(f"split {name!r}: expected a mapping with 'n' and 'difficulty', got {spec!r}")
    n, levels = spec.get("n"), spec.get("difficulty")
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"split {name!r}: 'n' must be a positive integer, got {n!r}")
    if (
        not isinstance(levels, list | tuple)
        or len(levels) != 2
        or not all(isinstance(x, int) and not isinstance(x, bool) for x in levels)
        or not 1 <= levels[0] <= levels[1]
    ):
        raise ValueError(f"split {name!r}: 'difficulty' must be [lo, hi] with 1 <= lo <= hi, got {levels!r}")
    return n, range(levels[0], levels[1] + 1)


def _sample_level(
    family: str, level: int, count: int, split: str, rng: random.Random, taken: set[str]
) -> list:
    """``count`` problems whose prompts are not in ``taken`` (which is updated), resampling duplicates."""
    make = FAMILIES[family]
    rows, misses = [], 0
    while len(rows) < count:
        problem = make(level, rng)
        prompt = make_prompt(problem["question"])
        if prompt in taken:
            misses += 1
            if misses >= MAX_MISSES:
                raise ValueError(
                    f"{family} difficulty {level}: split {split!r} got only {len(rows)} of {count} new prompts "
                    f"({MAX_MISSES} duplicate draws in a row); this level has too few distinct problems left "
                    f"after the other splits, so lower 'n' or widen the difficulty range"
                )
            continue
        misses = 0
        taken.add(prompt)
        rows.append((prompt, problem))
    return rows


def _build_split(
    name: str, n: int, levels: range, families: list[str], seed: int, taken: set[str], slip: float = 0.0
) -> list[dict]:
    """One split's records, ``n`` spread over (family, level) cells, ids numbered per family, shuffled."""
    cells = [(family, level) for family in families for level in levels]
    base, extra = divmod(n, len(cells))
    rows, numbers = [], Counter()
    for i, (family, level) in enumerate(cells):
        count = base + (i < extra)
        for prompt, problem in _sample_level(
            family, level, count, name, _rng(seed, name, family, level), taken
        ):
            rows.append(
                {
                    "id": f"{family}-{name}-{numbers[family]:05d}",
                    "prompt": prompt,
                    "answer": problem["answer"],
                    "solution": problem["solution"],
                    "hint": problem["hint"],
                    "difficulty": level,
                    "split": name,
                    "family": family,
                }
            )
            numbers[family] += 1
    _rng(seed, name, "order").shuffle(rows)
    if slip:
        add_slips(rows, slip, _rng(seed, name, "slip"))
    return rows


def build_splits(cfg: dict, seed: int) -> dict[str, list[dict]]:
    """Generate every split of ``cfg`` deterministically from ``seed``.

    ``cfg = {"families": [...], "splits": {name: {"n": total, "difficulty": [lo, hi]}}}``; each split's
    ``n`` is spread evenly over families and levels (the first cells take the remainder) and its rows are
    shuffled. No prompt appears twice, within or across splits. Held-out splits (named in HELD_OUT_SPLITS,
    or with ``"held_out": true``) are drawn first, so they do not change when the training splits grow.
    """
    families = cfg.get("families")
    if not isinstance(families, list | tuple) or not families or len(set(families)) != len(families):
        raise ValueError(f"'families' must be a non-empty list of distinct names, got {families!r}")
    for family in families:
        _check_family(family)
    splits = cfg.get("splits")
    if not isinstance(splits, dict) or not splits:
        raise ValueError(f"'splits' must be a non-empty mapping, got {splits!r}")
    sizes = {name: _split_levels(name, spec) for name, spec in splits.items()}
    held_out = {name: bool(spec.get("held_out", name in HELD_OUT_SPLITS)) for name, spec in splits.items()}

    taken: set[str] = set()
    built = {}
    for name in sorted(splits, key=lambda name: not held_out[name]):
        slip = splits[name].get("slip", 0.0)
        if not isinstance(slip, int | float) or not 0 <= slip <= 1 or (slip and held_out[name]):
            raise ValueError(f"split {name!r}: 'slip' must be in [0, 1], on a training split, got {slip!r}")
        built[name] = _build_split(name, *sizes[name], list(families), seed, taken, slip)
    return {name: built[name] for name in splits}


def write_splits(cfg: dict, seed: int, out_dir: str | Path) -> dict[str, Path]:
    """Build the splits and write each to ``<out_dir>/<split>.jsonl``; return the paths by split."""
    paths = {}
    for name, rows in build_splits(cfg, seed).items():
        paths[name] = Path(out_dir) / f"{name}.jsonl"
        write_jsonl(paths[name], rows)
    return paths


def task_stats(rows: list[dict]) -> dict:
    """Counts per family and per (family, difficulty), with solution lengths in characters."""
    lengths = defaultdict(list)
    for row in rows:
        lengths[(row["family"], row["difficulty"])].append(len(row["solution"]))
    levels = [
        {
            "family": family,
            "difficulty": level,
            "count": len(chars),
            "mean_solution_chars": round(sum(chars) / len(chars), 1),
            "max_solution_chars": max(chars),
        }
        for (family, level), chars in sorted(lengths.items())
    ]
    total = sum(len(row["solution"]) for row in rows)
    return {
        "n": len(rows),
        "by_family": dict(sorted(Counter(row["family"] for row in rows).items())),
        "levels": levels,
        "mean_solution_chars": round(total / len(rows), 1) if rows else 0.0,
    }
