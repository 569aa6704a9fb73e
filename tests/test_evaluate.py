"""evaluate() through both engines: HF generate on a tiny model, vLLM through a stand-in sampler (vLLM
does not run on a CPU); the graded samples it saves; `rlvr eval` writing them beside eval.csv."""

import json

import pytest

from rlvr_repro import evaluate as ev
from rlvr_repro import report, vllm_backend
from rlvr_repro.cli import main as rlvr
from rlvr_repro.jsonl import read_jsonl, write_jsonl
from rlvr_repro.models import build_model
from rlvr_repro.reward import Grade


def rows():
    return [
        {
            "id": f"p{i}",
            "prompt": f"Q: What is {i}+1?\nA: ",
            "answer": str(i + 1),
            "solution": "",
            "hint": "",
            "difficulty": 1 + i % 2,
            "split": "test",
        }  # fmt: skip
        for i in range(4)
    ]


def test_vllm_engine_is_dispatched_and_scored(tmp_path, monkeypatch):
    write_jsonl(tmp_path / "test.jsonl", rows())
    calls = []

    def fake_sample(model_path, prompts, n, temperature, max_new, top_p=1.0, seed=0, engine_kwargs=None):
        calls.append((n, temperature, engine_kwargs))
        # problem i: the first `i` of n samples are right (greedy, n=1: right iff i >= 1)
        return [
            [(f"#### {int(p.split()[3][0]) + 1 if j < int(p.split()[3][0]) else -1}", 5) for j in range(n)]
            for p in prompts
        ]

    monkeypatch.setattr(vllm_backend, "sample", fake_sample)
    monkeypatch.setattr(vllm_backend, "shutdown", lambda: calls.append("shutdown"))
    spec = {
        "engine": "vllm",
        "vllm": {"tensor_parallel_size": 1},
        "n": 4,
        "max_new_tokens": 8,
        "ks": [1, 2, 4],
    }
    samples = tmp_path / "samples.jsonl"
    metrics, problems = ev.evaluate(
        "some/model", {"test": tmp_path / "test.jsonl"}, spec, 0, {"method": "m"}, samples
    )
    assert (
        calls[0] == (4, 1.0, {"tensor_parallel_size": 1})
        and calls[1][:2] == (1, 0.0)
        and calls[-1] == "shutdown"
    )
    assert [p["c"] for p in problems] == [0, 1, 2, 3]
    avg = next(m["value"] for m in metrics if m["metric"] == "avg@n")
    assert avg == (0 + 1 + 2 + 3) / 16
    pass4 = next(m["value"] for m in metrics if m["metric"] == "pass@k" and m["k"] == 4)
    assert pass4 == 3 / 4
    assert [p["greedy_correct"] for p in problems] == [0, 1, 1, 1]
    # 4 of the 16: two right, two wrong; first samples of successive problems first (see pick_samples)
    shown = read_jsonl(samples)
    assert [(s["problem_id"], s["sample"], s["reward"]) for s in shown] == [
        ("p0", 0, 0.0), ("p0", 1, 0.0), ("p1", 0, 1.0), ("p2", 0, 1.0)]  # fmt: skip
    assert [(s["completion"], s["extracted"], s["gold"]) for s in shown] == [
        ("#### -1", "-1", "1"), ("#### -1", "-1", "1"), ("#### 2", "2", "2"), ("#### 3", "3", "3")]  # fmt: skip
    assert (
        shown[2]["prompt"] == "Q: What is 1+1?\nA: "
        and shown[0]["method"] == "m"
        and shown[0]["split"] == "test"
    )
    assert all(list(s) == list(ev.SAMPLE_FIELDS) for s in shown)


def test_hf_engine_runs_on_a_tiny_model(tmp_path):
    build_model("tiny", tmp_path / "m")
    write_jsonl(tmp_path / "test.jsonl", rows())
    spec = {"n": 2, "max_new_tokens": 6, "ks": [1, 2]}
    metrics, problems = ev.evaluate(str(tmp_path / "m"), {"test": tmp_path / "test.jsonl"}, spec, 0, {})
    assert len(problems) == 4 and all(0 <= p["c"] <= 2 for p in problems)
    assert {m["metric"] for m in metrics} >= {
        "pass@k",
        "avg@n",
        "greedy_acc",
        "mean_length",
        "acc_by_difficulty",
    }
    assert all(1 <= p["mean_length"] <= 6 for p in problems)


def marks(*rewards_per_problem):
    return [[Grade(float(r), str(r)) for r in rewards] for rewards in rewards_per_problem]


@pytest.mark.parametrize(
    "grades,k,expected",
    [
        (marks([0, 1], [1, 0], [0, 0]), 4, [(0, 0), (0, 1), (1, 0), (2, 0)]),  # 2 right, 2 wrong
        (marks([0, 1], [1, 0], [0, 0]), 3, [(0, 0), (0, 1), (1, 0)]),  # odd: one more right
        (marks([1, 1], [1, 0]), 4, [(0, 0), (0, 1), (1, 0), (1, 1)]),  # one wrong: right fills in
        (marks([0, 0], [0, 0]), 3, [(0, 0), (0, 1), (1, 0)]),  # none right: first samples first
        (marks([1], [0]), 5, [(0, 0), (1, 0)]),  # fewer than k
        (marks([1], [0]), 0, []),
    ],
)
def test_pick_samples_is_deterministic_and_mixes_right_and_wrong(grades, k, expected):
    assert ev.pick_samples(grades, k) == expected


def test_rlvr_eval_writes_graded_samples_beside_eval_csv(tmp_path):
    build_model("tiny", tmp_path / "m")
    write_jsonl(tmp_path / "test.jsonl", rows())
    boxed = [
        {**r, "prompt": r["prompt"].replace("Q:", "Q (boxed):"), "answer_format": "boxed"} for r in rows()
    ]
    write_jsonl(tmp_path / "ood.jsonl", boxed)
    out = tmp_path / "eval" / "tiny" / "grpo" / "seed0"
    spec = {"n": 2, "max_new_tokens": 6, "ks": [1, 2], "samples": 3}
    args = ["eval", "--run", str(tmp_path / "m"), "0", str(out / "eval.csv"), str(out / "problems.csv"),
            "--split", f"test={tmp_path / 'test.jsonl'}", "--split", f"ood={tmp_path / 'ood.jsonl'}",
            "--spec", json.dumps(spec), "--identity", json.dumps({"exp": "e", "size": "tiny", "method": "grpo"})]  # fmt: skip
    assert rlvr(args) == 0
    shown = read_jsonl(out / "samples.jsonl")
    # the random tiny model writes no "####" line and no box: every completion is wrong, so the first
    # samples of the first three problems are shown, per split
    assert [(s["split"], s["problem_id"], s["sample"], s["reward"], s["extracted"]) for s in shown] == [
        (split, f"p{i}", 0, 0.0, None) for split in ("test", "ood") for i in range(3)]  # fmt: skip
    assert [s["answer_format"] for s in shown] == ["gsm8k"] * 3 + ["boxed"] * 3
    assert {(s["exp"], s["size"], s["method"], s["seed"]) for s in shown} == {("e", "tiny", "grpo", 0)}
    assert shown[3]["prompt"] == "Q (boxed): What is 0+1?\nA: " and shown[3]["gold"] == "1"
    assert all(len(s["completion"]) <= 6 for s in shown) and any(s["completion"] for s in shown)
    again = tmp_path / "again"
    args[4:6] = [str(again / "eval.csv"), str(again / "problems.csv")]
    assert rlvr(args) == 0
    same = (again / "samples.jsonl").read_text() == (out / "samples.jsonl").read_text()
    assert same  # same seed, same file
    assert report.default_sample_files(tmp_path / "tables") == [
        out / "samples.jsonl"
    ]  # where the report looks
    html = report.graded_samples_html(report.load_samples([out / "samples.jsonl"]))
    k = report.SAMPLES_PER_METHOD  # the report shows up to k of a method's saved samples
    assert html.count("<tr>") == 1 + k and "grpo" in html


def graded(problem, reward, completion="#### 1"):
    return {"size": "tiny", "method": "grpo", "seed": 0, "split": "test", "problem_id": problem,
            "prompt": "Q: <b>1</b> & 2?\nA: ", "completion": completion, "extracted": "1", "gold": "1",
            "reward": reward}  # fmt: skip


def test_report_shows_a_mix_of_graded_samples_across_runs_escaped():
    runs = [
        [graded("a", 0.0, "<script>x</script>\n#### 1"), graded("b", 1.0)],
        [graded("c", 1.0), graded("d", 0.0)],
    ]
    # round robin a, c, b, d: right c, b; wrong a, d; three shown: two right (rounding up), one wrong
    assert [s["problem_id"] for s in report.pick_graded(runs, 3)] == ["c", "b", "a"]
    html = report.graded_samples_html(runs, k=3)
    assert (
        "<script>" not in html
        and "&lt;script&gt;x&lt;/script&gt;" in html
        and "&lt;b&gt;1&lt;/b&gt; &amp; 2" in html
    )
    assert html.count("<tr>") == 1 + 3 and "of the 4 saved by 2 runs" in html
    long = graded("e", 0.0, "x" * 700 + "#### 1")
    tail = "x" * (report.COMPLETION_TAIL - len("#### 1")) + "#### 1</pre>"
    assert "\u2026" + tail in report.graded_samples_html([[long]])  # the end is kept
    assert "No samples.jsonl" in report.graded_samples_html([])


def test_grader_timeouts_are_a_metric_per_split(tmp_path, monkeypatch):
    import time

    from rlvr_repro import reward

    write_jsonl(tmp_path / "test.jsonl", rows()[:1])
    # one symbolic answer per completion, which only math-verify decides; it overruns the timeout
    monkeypatch.setattr(
        vllm_backend, "sample", lambda m, prompts, n, *a, **k: [[("\\boxed{x^2}", 3)] * n for _ in prompts]
    )
    monkeypatch.setattr(vllm_backend, "shutdown", lambda: None)
    monkeypatch.setattr(reward, "_math_verify", lambda gold, pred, conn: time.sleep(10))
    monkeypatch.setattr(reward.judge, "__defaults__", (reward.DEFAULT_ANSWER_FORMAT, False, 0.2))  # timeout
    spec = {"engine": "vllm", "n": 2, "max_new_tokens": 4, "ks": [1]}
    metrics, _ = ev.evaluate("some/model", {"test": tmp_path / "test.jsonl"}, spec, 0, {})
    count = next(m["value"] for m in metrics if m["metric"] == "grader_timeouts")
    assert count == 3.0  # two samples and the greedy completion, each scored 0
    assert next(m["value"] for m in metrics if m["metric"] == "avg@n") == 0.0
