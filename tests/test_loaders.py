"""Data loaders: every source in its real column layout, written as a small fixture file and read back
through `datasets.load_dataset` (the json/parquet builder with data_files, what a local path
resolves to), then mapped to the project's records."""

import json
import re

import pytest
import yaml
from datasets import Dataset

from rlvr_repro import loaders
from rlvr_repro.cli import main as rlvr
from rlvr_repro.config import SCHEMA
from rlvr_repro.jsonl import RECORD_FIELDS, read_jsonl
from rlvr_repro.reward import grade
from rlvr_repro.tasks import ANSWER_CUE, CHAT_ASSISTANT_TURN, CHAT_PROBLEM_CUE, HINT_TAG, with_hint

MATH_ROWS = [  # hendrycks MATH: problem, level ("Level N"), type, solution (answer boxed in the solution)
    {"problem": "What is $2+3\\cdot 4$?", "level": "Level 1", "type": "Prealgebra",
     "solution": "Multiplication comes first: $3\\cdot 4 = 12$. Then $2 + 12 = 14$. So the answer is $\\boxed{14}$."},
    {"problem": "Solve $x^2 = 9$ for $x > 0$.", "level": "Level 3", "type": "Algebra",
     "solution": "Taking square roots gives $x = \\pm 3$. Since $x > 0$, we get $x = \\boxed{3}$."},
    {"problem": "Compute $\\frac{1}{2} + \\frac{1}{3}$.", "level": "Level 2", "type": "Prealgebra",
     "solution": "The common denominator is 6.\nSo $\\frac{1}{2} = \\frac{3}{6}$ and $\\frac{1}{3} = \\frac{2}{6}$.\n"
                 "Adding, $\\frac{3}{6} + \\frac{2}{6} = \\boxed{\\frac{5}{6}}$."},
    {"problem": "A problem without a boxed answer.", "level": "Level ?", "type": "Geometry",
     "solution": "The answer is 4."},
]  # fmt: skip
MATH500_ROWS = [
    {"problem": "Find $x$ if $2x = 10$.", "solution": "Divide by 2: $x = \\boxed{5}$.", "answer": "5",
     "subject": "Algebra", "level": 1, "unique_id": "test/algebra/1.json"},
    {"problem": "Simplify $\\sqrt{8}$.", "solution": "$\\sqrt{8} = \\boxed{2\\sqrt{2}}$.", "answer": "2\\sqrt{2}",
     "subject": "Algebra", "level": 2, "unique_id": "test/algebra/2.json"},
]  # fmt: skip
AIME24_ROWS = [{"id": 60, "problem": "Find the remainder when $2^{10}$ is divided by 1000.",
                "solution": "$2^{10} = 1024$, remainder $\\boxed{024}$.", "answer": "24",
                "url": "https://artofproblemsolving.com/wiki/...", "year": "2024"}]  # fmt: skip
AIME25_ROWS = [{"problem": "Find the sum of all integer bases $b>9$ ...", "answer": "70", "id": "0"}]
AMC23_ROWS = [{"id": 0, "question": "How many positive divisors does 36 have?", "answer": 9.0},
              {"id": 1, "question": "What is half of 2.5?", "answer": 1.25}]  # fmt: skip
MINERVA_ROWS = [{"question": "Compute the escape velocity ... in km/s.", "answer": "11.2"}]
OLYMPIAD_ROWS = [{"id": 1606, "question": "Find all pairs ...", "solution": ["Step one.", "Hence $(1,2)$."],
                  "final_answer": ["$(1,2)$", "$(2,1)$"], "context": None, "is_multiple_answer": True,
                  "unit": None, "answer_type": "Tuple", "subfield": "Number Theory", "subject": "Math",
                  "language": "English", "modality": "Text-only", "difficulty": "Competition"}]  # fmt: skip
GSM8K_ROWS = [{"question": "Natalia sold clips to 48 of her friends in April, and then she sold half as many "
                           "clips in May. How many clips did Natalia sell altogether in April and May?",
               "answer": "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 "
                         "clips altogether in April and May.\n#### 72"},
              {"question": "A big sale?", "answer": "It costs 1,000 + 200 = 1,200 dollars.\n#### 1,200"}]  # fmt: skip
GUIDE_ROWS = [  # verl RL format read by guide_rl's rl_dataset.py
    {"data_source": "math", "ability": "math",
     "prompt": [{"role": "user", "content": "What is $7\\cdot 8$?"}],
     "hint": [{"role": "user", "content": "What is $7\\cdot 8$?\nHint: $7\\cdot 8 = 7\\cdot 10 - 7\\cdot 2$."}],
     "reward_model": {"style": "rule", "ground_truth": "56"}, "extra_info": {"index": 11, "split": "train"}},
    {"data_source": "math", "ability": "math",
     "prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Solve $x+1=3$.\n"}],
     "hint": [{"role": "user", "content": "Subtract one from both sides."}],
     "reward_model": {"style": "rule", "ground_truth": "2"}, "extra_info": {"index": 12, "split": "train"}},
]  # fmt: skip


def write(tmp_path, name, rows, fmt="parquet"):
    path = tmp_path / f"{name}.{fmt}"
    ds = Dataset.from_list(rows)
    if fmt == "parquet":
        ds.to_parquet(str(path))
    else:
        ds.to_json(str(path), lines=True)
    return str(path)


def load(tmp_path, loader, rows, fmt="parquet", template="plain", **source):
    return loaders.load_source({"loader": loader, "path": write(tmp_path, loader, rows, fmt), **source},
                               "x", template)  # fmt: skip


def test_math_train_answer_is_last_boxed_and_level_is_difficulty(tmp_path):
    rows = load(tmp_path, "math", MATH_ROWS, fmt="jsonl")
    assert [r["answer"] for r in rows] == ["14", "3", "\\frac{5}{6}"]  # the unboxed row is dropped
    assert [r["difficulty"] for r in rows] == [1, 3, 2]
    for r in rows:
        assert set(RECORD_FIELDS) <= set(r) and r["split"] == "x" and r["source"] == "math"
        assert r["prompt"].endswith(ANSWER_CUE) and "\\boxed{}" in r["prompt"]
    assert rows[0]["hint"] == "Multiplication comes first: $3\\cdot 4 = 12$."


@pytest.mark.parametrize("solution,answer", [(r["solution"], a) for r, a in zip(MATH_ROWS, ["14", "3", "\\frac{5}{6}", "4"], strict=False)]
                         + [("We know $a=5$. Therefore $b = 5 + 2 = 7$. Hence 7 is it. Check: $7 - 2 = 5$. "
                             "So $\\boxed{7}$.", "7"),
                            ("The answer is 12 because 3 times 4 is 12. \\boxed{12}", "12"),
                            ("Note $3.14$ is close to pi. Also 31 is prime. The area is $31\\pi$. $\\boxed{31\\pi}$",
                             "31\\pi")])  # fmt: skip
def test_solution_hint_never_contains_the_final_answer(solution, answer):
    hint = loaders.solution_hint(solution, answer)
    assert "\\boxed" not in hint and "####" not in hint
    assert not re.search(r"(?<![0-9A-Za-z.])" + re.escape(answer) + r"(?![0-9A-Za-z])", hint), hint
    assert len(hint) < len(solution)


def test_solution_hint_takes_first_half_of_the_steps():
    solution = "First, a. Second, b. Third, c. Fourth, d. So \\boxed{9}."
    assert loaders.solution_hint(solution, "9") == "First, a. Second, b."
    assert loaders.solution_hint("Line one\nLine two\n#### 5", "5") == "Line one"


def test_math500_aime_amc_minerva_olympiad_layouts(tmp_path):
    m500 = load(tmp_path, "math500", MATH500_ROWS)
    assert [(r["id"], r["answer"], r["difficulty"]) for r in m500] == [
        ("test/algebra/1.json", "5", 1), ("test/algebra/2.json", "2\\sqrt{2}", 2)]  # fmt: skip
    aime24 = load(tmp_path, "aime24", AIME24_ROWS)
    assert aime24[0]["id"] == "aime24-60" and aime24[0]["answer"] == "24"
    assert load(tmp_path, "aime25", AIME25_ROWS, fmt="jsonl")[0]["answer"] == "70"
    amc = load(tmp_path, "amc23", AMC23_ROWS)
    assert [r["answer"] for r in amc] == ["9", "1.25"]  # integral floats as integers
    assert load(tmp_path, "minerva", MINERVA_ROWS, fmt="jsonl")[0]["answer"] == "11.2"
    oly = load(tmp_path, "olympiadbench", OLYMPIAD_ROWS)[0]
    assert oly["answer"] == "(1,2), (2,1)" and oly["solution"] == "Step one.\nHence $(1,2)$."
    assert oly["hint"] == "Step one."


def test_gsm8k_answer_after_hashes_without_commas_or_calculator_notes(tmp_path):
    rows = load(tmp_path, "gsm8k", GSM8K_ROWS)
    assert [r["answer"] for r in rows] == ["72", "1200"]
    assert "<<" not in rows[0]["solution"] and rows[0]["solution"].endswith("#### 72")
    assert rows[0]["hint"] == "Natalia sold 48/2 = 24 clips in May."
    assert grade(rows[0]["solution"], rows[0]["answer"], rows[0]["answer_format"]) == 1.0


def guide_prompt(content: str) -> str:
    """guide_rl's prompt, written out: ``qwen_math_chat_template.format(prompt=content)`` where content is
    the last message of the row's ``prompt`` (plain) or ``hint`` (hinted) column (rl_dataset.py)."""
    return ("<|im_start|>system\nPlease reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n"
            "<|im_start|>user\nProblem: " + content + "<|im_end|>\n<|im_start|>assistant\n")  # fmt: skip


def test_guide_rows_keep_their_ground_truth_and_prompts_match_guide_rl(tmp_path):
    rows = load(tmp_path, "guide", GUIDE_ROWS, template="qwen-math-chat")
    assert [r["id"] for r in rows] == ["guide-11", "guide-12"]
    assert [r["answer"] for r in rows] == ["56", "2"]
    assert [r["answer_format"] for r in rows] == ["boxed", "boxed"]
    for raw, rec in zip(GUIDE_ROWS, rows, strict=True):
        assert rec["prompt"] == guide_prompt(raw["prompt"][-1]["content"])
        assert with_hint(rec["prompt"], rec["hint"]) == guide_prompt(raw["hint"][-1]["content"])
    # the same, spelled out: the system message of row 2 is not used, its trailing newline is kept
    assert rows[1]["prompt"].endswith(
        "<|im_start|>user\nProblem: Solve $x+1=3$.\n<|im_end|>\n<|im_start|>assistant\n"
    )
    assert with_hint(rows[0]["prompt"], rows[0]["hint"]) == (
        "<|im_start|>system\nPlease reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n"
        "<|im_start|>user\nProblem: What is $7\\cdot 8$?\nHint: $7\\cdot 8 = 7\\cdot 10 - 7\\cdot 2$.<|im_end|>\n"
        "<|im_start|>assistant\n")  # fmt: skip
    assert with_hint(rows[1]["prompt"], rows[1]["hint"]).endswith(
        "Problem: Subtract one from both sides.<|im_end|>\n<|im_start|>assistant\n"
    )  # Guide's hint replaces it


def test_guide_rows_under_the_plain_template_keep_the_hint_text(tmp_path):
    rows = load(tmp_path, "guide", GUIDE_ROWS)
    assert rows[0]["hint"] == "Hint: $7\\cdot 8 = 7\\cdot 10 - 7\\cdot 2$."  # the problem prefix removed
    assert rows[1]["hint"] == "Subtract one from both sides."  # no problem prefix: the whole content
    assert with_hint(rows[1]["prompt"], rows[1]["hint"]).endswith(
        "\nHint: Subtract one from both sides." + ANSWER_CUE
    )


def test_derived_hints_in_chat_prompts_close_the_problem(tmp_path):
    rows = load(tmp_path, "math", MATH_ROWS, fmt="jsonl", template="qwen-math-chat")
    assert rows[0]["hint"] == "What is $2+3\\cdot 4$?\nHint: Multiplication comes first: $3\\cdot 4 = 12$."
    assert with_hint(rows[0]["prompt"], rows[0]["hint"]).endswith(
        "Problem: What is $2+3\\cdot 4$?\nHint: Multiplication comes first: $3\\cdot 4 = 12$.<|im_end|>\n"
        "<|im_start|>assistant\n")  # fmt: skip
    empty = loaders.record_hint("Find $x$.", "qwen-math-chat", "")
    assert empty == "" and with_hint(rows[0]["prompt"], empty) == rows[0]["prompt"]


def test_answer_format_is_a_property_of_the_source(tmp_path):
    assert {r["answer_format"] for r in load(tmp_path, "gsm8k", GSM8K_ROWS)} == {"gsm8k"}
    math = load(tmp_path, "math", MATH_ROWS, fmt="jsonl")
    assert {r["answer_format"] for r in math} == {"boxed"}
    heading = "Multiply first.\n#### Final Answer\n$\\boxed{14}$"
    assert grade(heading, math[0]["answer"], math[0]["answer_format"]) == 1.0
    assert grade("#### 14", math[0]["answer"], math[0]["answer_format"]) == 0.0  # MATH answers are boxed
    forced = load(tmp_path, "math", MATH_ROWS, fmt="jsonl", answer_format="gsm8k")
    assert {r["answer_format"] for r in forced} == {"gsm8k"}


def test_local_directory_resolves_to_its_split_files(tmp_path):
    root = tmp_path / "guide_math_rl_dataset"
    root.mkdir()
    Dataset.from_list(GUIDE_ROWS).to_parquet(str(root / "train.parquet"))
    Dataset.from_list(GUIDE_ROWS[:1]).to_parquet(str(root / "test.parquet"))
    train = loaders.load_source({"loader": "guide", "path": str(root), "split": "train"}, "rl")
    test = loaders.load_source({"loader": "guide", "path": str(root), "split": "test"}, "t")
    assert len(train) == 2 and len(test) == 1


def test_max_rows_and_errors(tmp_path):
    path = write(tmp_path, "math", MATH_ROWS)
    assert len(loaders.load_source({"loader": "math", "path": path, "max_rows": 2}, "rl")) == 2
    with pytest.raises(ValueError, match="unknown loader 'mth'"):
        loaders.load_source({"loader": "mth", "path": path}, "rl")
    with pytest.raises(FileNotFoundError, match="nope"):
        loaders.load_source({"loader": "math", "path": str(tmp_path / "nope.parquet")}, "rl")
    with pytest.raises(ValueError, match="unknown prompt template"):
        loaders.render_prompt("x", "llama")


def test_templates_hold_the_slots_with_hint_uses_and_reward_reads_boxed():
    plain = loaders.render_prompt("What is 1+1?", "plain")
    assert (
        with_hint(plain, "h") == "Q: What is 1+1?\n" + loaders.BOXED_INSTRUCTION + HINT_TAG + "h" + ANSWER_CUE
    )
    chat = loaders.render_prompt("What is 1+1?", "qwen-math-chat")
    assert chat.count(CHAT_PROBLEM_CUE) == 1 and chat.endswith(
        CHAT_PROBLEM_CUE + "What is 1+1?" + CHAT_ASSISTANT_TURN
    )
    assert with_hint(chat, "What is 1+1? Hint: h") == chat.replace("What is 1+1?", "What is 1+1? Hint: h")
    assert "{problem}" not in plain + chat
    assert grade("... so the answer is \\boxed{\\frac{5}{6}}.", "\\frac{5}{6}", "boxed") == 1.0


def test_schema_lists_every_loader():
    schema = yaml.safe_load(SCHEMA.read_text())
    assert set(schema["definitions"]["source"]["properties"]["loader"]["enum"]) == set(loaders.LOADERS)


def test_rlvr_data_writes_rl_sft_and_one_file_per_benchmark(tmp_path):
    train_rows = MATH_ROWS + [{**MATH500_ROWS[0], "level": "Level 1", "type": "Algebra"}]  # leaks a benchmark
    spec = {
        "source": "hub",
        "template": "qwen-math-chat",
        "train": {"loader": "math", "path": write(tmp_path, "train", train_rows)},
        "benchmarks": {
            "math500": {"loader": "math500", "path": write(tmp_path, "m500", MATH500_ROWS)},
            "gsm8k": {"loader": "gsm8k", "path": write(tmp_path, "gsm", GSM8K_ROWS, fmt="jsonl")},
        },
    }
    out = tmp_path / "data"
    assert rlvr(["data", "--spec", json.dumps(spec), "--out-dir", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["gsm8k.jsonl", "math500.jsonl", "rl.jsonl", "sft.jsonl"]
    rl = read_jsonl(out / "rl.jsonl", required=RECORD_FIELDS)
    assert len(rl) == 3  # 4 boxed rows, the MATH-500 duplicate dropped
    assert all(r["split"] == "rl" for r in rl)
    assert [r["split"] for r in read_jsonl(out / "sft.jsonl")] == ["sft"] * 3
    assert [r["answer"] for r in read_jsonl(out / "gsm8k.jsonl")] == ["72", "1200"]
    assert read_jsonl(out / "math500.jsonl")[0]["prompt"].startswith("<|im_start|>system\n")


def test_fetch_model_links_a_local_model_and_adds_the_templates_end_token(tmp_path):
    from rlvr_repro.models import build_model, fetch_model, load_tokenizer

    src = tmp_path / "base"
    build_model("tiny", src, seed=0)
    tok = load_tokenizer(str(src))
    tok.add_special_tokens({"additional_special_tokens": ["<|im_end|>"]})
    tok.save_pretrained(src)
    before = (src / "generation_config.json").read_text()
    out = fetch_model(str(src), tmp_path / "init", loaders.TEMPLATE_END_TOKENS["qwen-math-chat"])
    eos = json.loads((out / "generation_config.json").read_text())["eos_token_id"]
    end = load_tokenizer(str(out)).convert_tokens_to_ids("<|im_end|>")
    assert end in eos and tok.eos_token_id in eos
    assert (src / "generation_config.json").read_text() == before  # the source model is untouched
    assert (out / "model.safetensors").stat().st_ino == (src / "model.safetensors").stat().st_ino  # linked
    plain = fetch_model(str(src), tmp_path / "plain")
    assert (plain / "generation_config.json").read_text() == before


def test_guide_training_rows_without_solutions_leave_sft_empty_and_ids_unique(tmp_path):
    rows = GUIDE_ROWS + [{**GUIDE_ROWS[0], "extra_info": {"index": 11, "split": "train"}}]  # repeated index
    spec = {"source": "hub", "train": {"loader": "guide", "path": write(tmp_path, "g", rows)},
            "benchmarks": {"aime24": {"loader": "aime24", "path": write(tmp_path, "a", AIME24_ROWS)}}}  # fmt: skip
    paths = loaders.write_hub_splits(spec, tmp_path / "data")
    rl = read_jsonl(paths["rl"])
    assert len({r["id"] for r in rl}) == 3 and read_jsonl(paths["sft"]) == []


# The released strings, formatted with this problem, as their sources write them:
# guide_rl verl/utils/dataset/templates.py (qwen_math_chat_template, llama_math_chat_template) and
# QwenLM/Qwen2.5-Math evaluation/utils.py PROMPT_TEMPLATES["qwen25-math-cot"][0].
RELEASED_PROBLEM = "Find an integer congruent to $1 \\pmod{7}$ and to $2 \\pmod{11}$."
RELEASED_RENDERINGS = {
    "qwen-math-chat": "<|im_start|>system\nPlease reason step by step, and put your final answer within "
    "\\boxed{}.<|im_end|>\n<|im_start|>user\nProblem: "
    + RELEASED_PROBLEM
    + "<|im_end|>\n<|im_start|>assistant\n",
    "qwen25-math-cot": "<|im_start|>system\nPlease reason step by step, and put your final answer within "
    "\\boxed{}.<|im_end|>\n<|im_start|>user\n" + RELEASED_PROBLEM + "<|im_end|>\n<|im_start|>assistant\n",
    "llama-math-chat": "<|start_header_id|>user<|end_header_id|>\n\nSolve the following math problem "
    "efficiently and clearly:\n\n- For simple problems (2 steps or fewer):\nProvide a concise solution with "
    "minimal explanation.\n\n- For complex problems (3 steps or more):\nUse this step-by-step format:\n\n"
    "## Step 1: [Concise description]\n[Brief explanation and calculations]\n\n## Step 2: [Concise "
    "description]\n[Brief explanation and calculations]\n\n...\n\nRegardless of the approach, always "
    "conclude with:\n\nTherefore, the final answer is: $\\boxed{answer}$. I hope it is correct.\n\nWhere "
    "[answer] is just the final number or expression that solves the problem.\n\nProblem: "
    + RELEASED_PROBLEM
    + "<|eot_id|>\n<|start_header_id|>assistant<|end_header_id|>\n\n",
}


@pytest.mark.parametrize("template", sorted(RELEASED_RENDERINGS))
def test_templates_render_the_released_strings(template):
    assert loaders.render_prompt(RELEASED_PROBLEM, template) == RELEASED_RENDERINGS[template]
    assert set(loaders.TEMPLATE_END_TOKENS) == set(loaders.TEMPLATES)


def test_only_hint_slot_templates_count_as_chat_and_others_reject_hints():
    assert loaders.is_chat("qwen-math-chat")
    assert not loaders.is_chat("qwen25-math-cot") and not loaders.is_chat("llama-math-chat")
    with pytest.raises(ValueError, match="does not end with the answer cue"):
        with_hint(loaders.render_prompt("x", "qwen25-math-cot"), "x\nHint: h")


def test_olympiadbench_keeps_context_and_unit(tmp_path):
    row = {**OLYMPIAD_ROWS[0], "context": "A ball falls from rest.", "unit": "m/s"}
    oly = load(tmp_path, "olympiadbench", [row])[0]
    assert oly["problem"].startswith("A ball falls from rest.\n\n" + row["question"])
    assert oly["problem"].endswith("Give the answer in m/s.")


def test_guide_list_ground_truth_is_alternatives_never_joined(tmp_path):
    row = {**GUIDE_ROWS[0], "reward_model": {"style": "rule", "ground_truth": ["$\\frac{1}{2}$", "0.5", ""]}}
    rec = load(tmp_path, "guide", [row])[0]
    assert rec["answers"] == ["\\frac{1}{2}", "0.5"] and rec["answer"] == "\\frac{1}{2}"
    assert grade("\\boxed{0.5}", rec["answers"], "boxed") == 1.0  # any of the alternatives
    assert grade("\\boxed{1/2}", rec["answers"], "boxed") == 1.0
    assert grade("\\boxed{0.25}", rec["answers"], "boxed") == 0.0
    single = load(tmp_path, "guide", GUIDE_ROWS)
    assert [r["answers"] for r in single] == [["56"], ["2"]]


def test_olympiadbench_multi_part_answers_are_ordered_unless_multiple(tmp_path):
    tuple_row = {**OLYMPIAD_ROWS[0], "final_answer": ["$3$", "$-1$"], "is_multiple_answer": False}
    oly = load(tmp_path, "olympiadbench", [tuple_row])[0]
    assert oly["answer"] == "(3, -1)"
    assert grade("\\boxed{(3, -1)}", oly["answer"], "boxed") == 1.0
    assert grade("\\boxed{(-1, 3)}", oly["answer"], "boxed") == 0.0  # in order
    found_all = load(tmp_path, "olympiadbench", OLYMPIAD_ROWS)[0]  # is_multiple_answer: a set
    assert grade("\\boxed{(2,1), (1,2)}", found_all["answer"], "boxed") == 1.0


def test_answer_text_refuses_to_join_a_list():
    with pytest.raises(ValueError, match="is a list"):
        loaders.answer_text(["1", "2"])


def test_rl_dataset_carries_gold_alternatives_to_the_reward(tmp_path):
    from rlvr_repro.jsonl import write_jsonl
    from rlvr_repro.reward import make_reward
    from rlvr_repro.rl.train import rl_dataset

    base = {
        "prompt": "p",
        "solution": "",
        "hint": "",
        "difficulty": 0,
        "split": "rl",
        "answer_format": "boxed",
    }
    write_jsonl(tmp_path / "rl.jsonl", [{**base, "id": "a", "answer": "1/2", "answers": ["1/2", "0.5"]},
                                        {**base, "id": "b", "answer": "7"}])  # fmt: skip
    data = rl_dataset(tmp_path / "rl.jsonl")
    assert data["answers"] == [["1/2", "0.5"], ["7"]]
    reward = make_reward()(
        data["prompt"], ["\\boxed{0.5}", "\\boxed{7}"], **{k: data[k] for k in data.column_names}
    )
    assert reward == [1.0, 1.0]
