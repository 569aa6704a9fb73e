import pytest

from rlvr_repro.reward import (
    Grade,
    correctness_reward,
    extract_answer,
    format_ok,
    grade,
    judge,
    make_reward,
    math_verify_with_timeout,
)

HEADING = "## Step 1\n3 + 4 = 7.\n\n#### Final Answer\nThe answer is $\\boxed{7}$."


@pytest.mark.parametrize(
    "text,expected",
    [
        ("3+4 = 7\n#### 7", "7"),
        ("#### 1\n#### -12\n", "-12"),
        ("so \\boxed{\\frac{1}{2}} done", "\\frac{1}{2}"),
        ("no answer here", None),
        ("#### ", None),
        ("\\boxed{unclosed", None),
        (HEADING, "7"),  # the boxed answer wins over a "#### Final Answer" heading
        ("\\fbox{7}", "7"),
        ("\\boxed{3} then \\fbox{8}", "8"),  # the last of either
        ("\\boxed{unclosed\n#### 5", "5"),  # no closed box: the GSM8K line
    ],
)
def test_extract_answer_gsm8k_style(text, expected):
    assert extract_answer(text) == expected


@pytest.mark.parametrize(
    "text,expected",
    [(HEADING, "7"), ("#### 42", None), ("\\fbox{7}", "7"), ("\\boxed{}", None), ("a \\boxed{x=5}.", "x=5")],
)
def test_extract_answer_boxed_style_never_reads_hashes(text, expected):
    assert extract_answer(text, "boxed") == expected


def test_unknown_answer_format_names_the_valid_ones():
    with pytest.raises(ValueError, match="gsm8k"):
        extract_answer("#### 1", "latex")


def test_grade_integers_and_fractions():
    assert grade("1+1 = 2\n#### 2", "2") == 1.0
    assert grade("#### 2.0", "2") == 1.0
    assert grade("#### 4/2", "2") == 1.0
    assert grade("#### 3", "2") == 0.0
    assert grade("#### 1,000", "1000") == 1.0


def test_gsm8k_final_line_scores_as_before():
    assert grade("Natalia sold 72 clips.\n#### 42", "42") == 1.0
    assert grade("#### 42", "42", "boxed") == 0.0  # a boxed-style source has no "####" answers
    # a final line that is neither a number nor LaTeX stays conclusive: 2+3 is not the number 5
    assert judge("#### 2+3", "5") == Grade(0.0, "2+3")
    assert judge("#### x=5", "5") == Grade(0.0, "x=5")


def test_final_answer_heading_with_boxed_answer():
    assert judge(HEADING, "7", "boxed") == Grade(1.0, "7")
    assert judge(HEADING, "7") == Grade(1.0, "7")
    assert grade(HEADING, "8", "boxed") == 0.0


def test_boxed_equation_falls_through_to_math_verify():
    assert judge("\\boxed{x=5}", "5", "boxed") == Grade(1.0, "x=5")
    assert grade("\\boxed{x = 5}", "5") == 1.0
    assert grade("\\boxed{y=6}", "5", "boxed") == 0.0


def test_fbox_is_an_answer():
    assert judge("so \\fbox{7}", "7", "boxed") == Grade(1.0, "7")
    assert grade("\\fbox{\\frac{1}{2}}", "0.5", "boxed") == 1.0


@pytest.mark.parametrize(
    "text,ok",
    [
        ("#### 7", False),  # no box
        ("so \\boxed{7}", True),
        ("\\boxed{3}, no: \\boxed{7}", False),  # two boxes
        ("\\boxed{7}   ", True),  # three trailing spaces
        ("\\boxed{7}\n\n\n\n", False),  # four trailing newlines
        ("\\fbox{7}", False),  # guide_rl counts "\\boxed{" only
    ],
)
def test_format_ok_is_guides_qwen_check(text, ok):
    assert format_ok(text) is ok


def test_format_check_gates_the_reward_only_when_on():
    one, two = "\\boxed{7}", "\\boxed{3}, no: \\boxed{7}"
    assert [grade(t, "7", "boxed", format_check=True) for t in ("7", one, two)] == [0.0, 1.0, 0.0]
    assert [grade(t, "7", "boxed") for t in ("7", one, two)] == [0.0, 1.0, 1.0]
    assert judge(two, "7", "boxed", format_check=True) == Grade(0.0, "7", False)


def test_grade_malformed_never_raises():
    for junk in ["", "####", "#### 2-", "#### ((((", "\x00" * 10, "#### " + "9" * 5000, "#### 1/0",
                 "\\boxed{" * 50, "\\boxed{\\frac{1}{0}}"]:  # fmt: skip
        assert grade(junk, "2") == 0.0
        assert grade(junk, "2", "boxed", format_check=True) == 0.0


def test_grade_symbolic_goes_through_math_verify():
    assert grade("\\boxed{\\frac{1}{2}}", "0.5") == 1.0
    assert grade("\\boxed{\\sqrt{4}}", "2") == 1.0
    assert grade("\\boxed{x+1}", "1+x") == 1.0
    assert grade("\\boxed{x+2}", "1+x") == 0.0


def test_math_verify_timeout_kills_slow_grader(monkeypatch):
    import rlvr_repro.reward as reward

    def slow(gold, pred, conn):
        import time

        time.sleep(30)

    monkeypatch.setattr(reward, "_math_verify", slow)
    assert math_verify_with_timeout("$1$", "$1$", timeout=0.2) is False


def test_math_verify_runs_outside_the_main_thread():
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(grade, "\\boxed{x=5}", "5", "boxed").result() == 1.0


def test_reward_function_reads_dataset_columns():
    out = correctness_reward(["q1", "q2"], ["#### 5", "#### 6"], answer=["5", "5"])
    assert out == [1.0, 0.0]
    chat = correctness_reward(["q"], [[{"role": "assistant", "content": "#### 5"}]], answer=["5"])
    assert chat == [1.0]
    per_row = correctness_reward(
        ["a", "b"], ["#### 5", "#### 5"], answer=["5", "5"], answer_format=["gsm8k", "boxed"]
    )
    assert per_row == [1.0, 0.0]
    checked = make_reward(format_check=True)
    assert checked.__name__ == "correct" and correctness_reward.__name__ == "correct"
    assert checked(["q", "q"], ["\\boxed{5}", "\\boxed{5}\\boxed{5}"], answer=["5", "5"]) == [1.0, 0.0]


def test_final_line_text_after_a_number_is_not_an_answer():
    # a tiny model's garbage final line: math-verify would find the leading 1, but it is not an answer
    assert grade("1+0 = 1\n#### 1HsN.`,4###", "1") == 0.0
    assert grade("#### \\frac{2}{2}", "1") == 1.0  # a LaTeX expression on the final line still is one
    assert grade("#### 1", "1") == 1.0


@pytest.mark.parametrize(
    "gold, completion, expected",
    [
        ("1, 2", "\\boxed{12}", 0.0),  # a list is never concatenated into a number
        ("1, 2", "\\boxed{2, 1}", 1.0),  # a bare comma list is a solution set
        ("-2, 2", "\\boxed{-22}", 0.0),
        ("-2, 2", "\\boxed{2,-2}", 1.0),
        ("1, 2", "\\boxed{1, 2, 2}", 0.0),  # multiset: sizes must agree
        ("1, \\frac{1}{2}", "\\boxed{0.5, 1}", 1.0),
        ("(1, 2)", "\\boxed{(2, 1)}", 0.0),  # a parenthesised tuple is ordered
        ("(1, 2)", "\\boxed{(1, 2)}", 1.0),
        ("1,234", "\\boxed{1234}", 1.0),  # thousands separator
        ("6.3e-5", "\\boxed{0.000063}", 1.0),  # scientific notation, exact
        ("6.3\\times10^{-26}", "\\boxed{6.3e-26}", 1.0),
        ("6.3 \\times 10^{-26}", "\\boxed{6.4e-26}", 0.0),
    ],
)
def test_lists_sets_tuples_and_scientific_notation(gold, completion, expected):
    assert grade(completion, gold, "boxed") == expected


def test_deeply_nested_braces_are_linear():
    import time

    start = time.perf_counter()
    assert grade("\\boxed{" + "{" * 15 + "5" + "}" * 15 + "}", "5", "boxed") == 1.0
    assert grade("\\boxed{" + "{" * 15 + "\\frac{10}{2}" + "}" * 15 + "}", "5", "boxed") == 1.0
    assert time.perf_counter() - start < 5.0


def test_timeout_is_counted_and_logged(monkeypatch, caplog):
    import time

    from rlvr_repro import reward

    monkeypatch.setattr(reward, "_math_verify", lambda gold, pred, conn: time.sleep(10))
    before = reward.TIMEOUTS["count"]
    with caplog.at_level("WARNING", logger="rlvr_repro.reward"):
        assert reward.grade("\\boxed{x^2}", "y^2", "boxed", timeout=0.3) == 0.0
    assert reward.TIMEOUTS["count"] == before + 1
    assert "timed out" in caplog.text


def test_gold_alternatives_any_of_never_joined():
    assert grade("\\boxed{0.5}", ["\\frac{1}{2}", "0.5"], "boxed") == 1.0
    assert grade("\\boxed{2}", ["1", "3"], "boxed") == 0.0
    assert grade("\\boxed{13}", ["1", "3"], "boxed") == 0.0  # never the joined "1, 3" or 13
    assert grade("\\boxed{3, 1}", ["1", "3"], "boxed") == 0.0  # alternatives, not a solution set
    assert grade("#### 3", ("1", "3")) == 1.0
    with pytest.raises(ValueError, match="empty list"):
        grade("\\boxed{1}", [], "boxed")
    # the TRL reward reads an `answers` column of alternatives in place of `answer`
    out = correctness_reward(["q", "q"], ["\\boxed{0.5}", "\\boxed{7}"], answer=["\\frac{1}{2}", "7"],
                             answer_format=["boxed", "boxed"], answers=[["\\frac{1}{2}", "0.5"], ["7"]])  # fmt: skip
    assert out == [1.0, 1.0]


def test_math_verify_worker_is_reused_and_replaced_after_a_timeout(monkeypatch):
    import time

    from rlvr_repro import reward

    assert math_verify_with_timeout("$x^2$", "$x \\cdot x$") is True
    first = reward._WORKER[0].process.pid
    assert math_verify_with_timeout("$\\frac{1}{2}$", "$0.5$") is True
    assert reward._WORKER[0].process.pid == first  # no fork per call
    monkeypatch.setattr(reward, "_math_verify", lambda gold, pred, conn: time.sleep(10))
    assert math_verify_with_timeout("$1$", "$1$", timeout=0.2) is False
    assert not reward._WORKER  # the overrunning worker is gone; the next call starts a fresh one
    monkeypatch.undo()
    assert math_verify_with_timeout("$2$", "$2$") is True and reward._WORKER[0].process.pid != first
