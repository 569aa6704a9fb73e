import json

from rlvr_repro.reward import make_reward
from rlvr_repro.rl.train import rl_dataset

ROW = {"id": "a-0", "prompt": "Q: 1+1?\nA: ", "answer": "2", "solution": "", "hint": "", "difficulty": 1,
       "split": "rl", "family": "hub"}  # fmt: skip


def test_rl_dataset_carries_the_answer_format_to_the_reward(tmp_path):
    path = tmp_path / "rl.jsonl"
    path.write_text(json.dumps({**ROW, "answer_format": "boxed"}) + "\n")
    ds = rl_dataset(path)
    assert ds[0]["answer_format"] == "boxed"
    reward = make_reward()
    # a boxed source: a "####" line is no answer there; the boxed one is
    assert reward(None, ["#### 2"], answer=ds["answer"], answer_format=ds["answer_format"]) == [0.0]
    assert reward(None, ["\\boxed{2}"], answer=ds["answer"], answer_format=ds["answer_format"]) == [1.0]
    assert make_reward(format_check=True)(None, ["\\boxed{2} \\boxed{2}"], answer=["2"]) == [0.0]


def test_rl_dataset_without_answer_format_is_gsm8k_style(tmp_path):
    path = tmp_path / "rl.jsonl"
    path.write_text(json.dumps(ROW) + "\n")
    ds = rl_dataset(path)
    assert "answer_format" not in ds.column_names
    assert make_reward()(None, ["1+1 = 2\n#### 2"], answer=ds["answer"]) == [1.0]
