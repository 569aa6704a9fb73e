"""Real data sets -> the project's JSONL records (`jsonl.RECORD_FIELDS`), through `datasets.load_dataset`.

Each loader reads one source in its published column layout and maps a row to
``{id, prompt, answer, answers, solution, hint, difficulty, split, source}`` (``answers``: the gold
alternatives, ``[answer]`` unless the source lists several; ``answer`` is the first). Every source is read with
`datasets.load_dataset`: a hub id (``HuggingFaceH4/MATH-500``), a local directory (resolved by
`datasets` to its packaged json/parquet/csv builder) or a single local file (read with the
``json`` / ``parquet`` / ``csv`` builder and ``data_files``, which is what a local path resolves to).
Nothing is downloaded here unless a hub id is given.

Column layouts (looked up in the data sets' cards and in code that reads them; cited per loader):

* ``math``  Hendrycks MATH train, e.g. ``DigitalLearningGmbH/MATH-lighteval`` or
  ``EleutherAI/hendrycks_math`` (one config per subject): ``problem, level ("Level 3"), type, solution``
  (TFDS/HF card of `competition_math`: features problem/level/type/solution, 7500 train / 5000 test).
  The answer is the last ``\\boxed{}`` of the solution.
* ``math500``  ``HuggingFaceH4/MATH-500`` split ``test``: ``problem, solution, answer, subject,
  level (int), unique_id`` (dataset card `dataset_info`, 500 rows; lighteval task `math_500`).
* ``aime24``  ``HuggingFaceH4/aime_2024`` split ``train``: ``id (int), problem, solution, answer, url, year``
  (dataset card, 30 rows; lighteval task `aime24`).
* ``aime25``  ``math-ai/aime25`` split ``test``: ``problem, answer, id`` (30 rows; read with these columns
  by public eval code, e.g. simopd/grpo-math eval scripts); ``yentinglin/aime_2025`` (split ``train``)
  has the same ``problem``/``answer`` columns (lighteval task `aime25`).
* ``amc23``  ``math-ai/amc23`` split ``test``: ``question, answer`` (40 rows; answers may be stored as
  floats, e.g. ``27.0``, so integral floats are written as integers).
* ``minerva``  ``math-ai/minervamath`` split ``test``: ``question, answer`` (272 rows; open-r1's
  custom lighteval task `minerva_math`).
* ``olympiadbench``  ``Hothan/OlympiadBench`` config ``OE_TO_maths_en_COMP`` split ``train`` (675 rows;
  lighteval task `olympiad_bench`) or ``math-ai/olympiadbench`` split ``test``: ``id, question,
  solution (list of str), final_answer (list of str)``; several final answers form a set
  ``a, b`` when ``is_multiple_answer`` is set, else the ordered tuple ``(a, b)`` (`ordered_answer`).
* ``gsm8k``  ``openai/gsm8k`` config ``main``: ``question, answer`` where the answer is the worked
  solution ending in ``#### <number>`` (calculator annotations ``<<48/2=24>>`` are dropped).
* ``guide``  ``vaskarnath/guide_math_rl_dataset`` (``train/validation/test.parquet``), the verl RL format
  read by Guide's ``verl/utils/dataset/rl_dataset.py``: ``data_source``, ``prompt`` (chat messages;
  the problem is the last message's content), ``hint`` (chat messages whose last content is the
  problem with the hint), ``ability``, ``reward_model`` ``{style, ground_truth}``, ``extra_info``
  ``{index, ...}``; a list ``ground_truth`` holds alternatives, kept as the record's ``answers``
  (any of them is correct, `answer_alternatives`). guide_rl (``RLHFDataset.__getitem__`` with ``custom_chat_template``) formats its chat
  template with the last message's content as is, for the plain prompt from ``prompt`` and for the
  hinted one from ``hint``; so do we (`record_hint`, `tasks.with_hint`), without stripping the text.

Answer format (`reward.ANSWER_FORMATS`): ``gsm8k`` for the ``gsm8k`` loader (``#### <number>`` solutions),
``boxed`` for every other source; a source's ``answer_format`` key overrides it. Records carry it.

Hints for sources without one are derived from the reference solution (docs/METHODS.md §2:
**unspecified** in the paper, the project's reading): the first half of the solution's sentences
(at most `HINT_MAX_SENTENCES`), stopping before any ``\\boxed{}`` or ``####`` line, and never a
sentence that contains the final answer (see `solution_hint`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path

from .jsonl import write_jsonl
from .reward import last_boxed
from .tasks import ANSWER_CUE, CHAT_ASSISTANT_TURN, CHAT_PROBLEM_CUE, HINT_TAG

# --- prompt templates ------------------------------------------------------------------------------------

BOXED_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."

#: ``plain`` ends with `tasks.ANSWER_CUE`, where `tasks.with_hint` inserts a hint; ``qwen-math-chat``
#: holds the problem between `tasks.CHAT_PROBLEM_CUE` and `CHAT_ASSISTANT_TURN`, where `tasks.with_hint`
#: puts the hinted problem. Sources of the released strings, written here as text so the trainer and
#: vLLM see the same string:
#:
#: * ``qwen-math-chat``: guide_rl's ``qwen_math_chat_template`` (``verl/utils/dataset/templates.py``),
#:   with ``Problem: `` before the problem. It is not Qwen2.5-Math's own evaluation prompt.
#: * ``qwen25-math-cot``: Qwen2.5-Math's ``PROMPT_TEMPLATES["qwen25-math-cot"]`` input part
#:   (QwenLM/Qwen2.5-Math ``evaluation/utils.py``): the same system turn, the problem with no prefix.
#: * ``llama-math-chat``: guide_rl's ``llama_math_chat_template`` (same file), the Llama-3.1-Instruct
#:   header markup around the search-and-learn step-by-step instruction; it has no ``<|begin_of_text|>``
#:   (the Llama tokenizer adds its BOS). Llama-3.1's end-of-turn token is ``<|eot_id|>``
#:   (``tokenizer_config.json`` chat template).
#:
#: Only ``plain`` and ``qwen-math-chat`` hold the slot `tasks.with_hint` rewrites; the other two are
#: evaluation prompts (`tasks.with_hint` rejects them with a ValueError naming the prompt).
LLAMA_STEP_INSTRUCTION = (
    "Solve the following math problem efficiently and clearly:\n\n"
    "- For simple problems (2 steps or fewer):\nProvide a concise solution with minimal explanation.\n\n"
    "- For complex problems (3 steps or more):\nUse this step-by-step format:\n\n"
    "## Step 1: [Concise description]\n[Brief explanation and calculations]\n\n"
    "## Step 2: [Concise description]\n[Brief explanation and calculations]\n\n...\n\n"
    "Regardless of the approach, always conclude with:\n\n"
    "Therefore, the final answer is: $\\boxed{answer}$. I hope it is correct.\n\n"
    "Where [answer] is just the final number or expression that solves the problem.\n\n"
)
TEMPLATES = {
    "plain": "Q: {problem}\n" + BOXED_INSTRUCTION + ANSWER_CUE,
    "qwen-math-chat": "<|im_start|>system\n"
    + BOXED_INSTRUCTION
    + "<|im_end|>\n"
    + CHAT_PROBLEM_CUE
    + "{problem}"
    + CHAT_ASSISTANT_TURN,
    "qwen25-math-cot": "<|im_start|>system\n"
    + BOXED_INSTRUCTION
    + "<|im_end|>\n<|im_start|>user\n{problem}"
    + CHAT_ASSISTANT_TURN,
    "llama-math-chat": "<|start_header_id|>user<|end_header_id|>\n\n"
    + LLAMA_STEP_INSTRUCTION
    + "Problem: {problem}<|eot_id|>\n<|start_header_id|>assistant<|end_header_id|>\n\n",
}


#: Tokens that end the model's turn under each template; `models.fetch_model` adds them to the base
#: model's generation config so every engine stops there (base models' own EOS is <|endoftext|>).
TEMPLATE_END_TOKENS = {
    "plain": (),
    "qwen-math-chat": ("<|im_end|>",),
    "qwen25-math-cot": ("<|im_end|>",),
    "llama-math-chat": ("<|eot_id|>",),
}


def render_prompt(problem: str, template: str = "plain") -> str:
    """`template` with `problem` in its slot, verbatim (guide_rl's ``str.format`` does not strip)."""
    if template not in TEMPLATES:
        raise ValueError(f"unknown prompt template {template!r}; valid templates: {sorted(TEMPLATES)}")
    return TEMPLATES[template].replace("{problem}", problem)


def is_chat(template: str) -> bool:
    """Whether `template` holds the chat problem slot `tasks.with_hint` replaces (``qwen-math-chat``)."""
    text = TEMPLATES[template]
    return text.endswith(CHAT_ASSISTANT_TURN) and CHAT_PROBLEM_CUE in text


def record_hint(problem: str, template: str, hint: str = "", hinted_problem: str | None = None) -> str:
    """The record's ``hint`` field: what `tasks.with_hint` takes to re-prompt a `template` prompt.

    `hinted_problem` is a source's own hinted statement (Guide's ``hint`` column), `hint` a hint text
    (derived from the solution). Chat prompts take the whole hinted statement: Guide's as is, else the
    problem followed by ``"\\nHint: " + hint`` (the prompt `with_hint` built before hinted statements
    existed). Plain prompts take the hint text: Guide's statement with its problem prefix removed when
    it starts with the problem (a reading), else the whole statement.
    """
    if is_chat(template):
        if hinted_problem is not None:
            return hinted_problem
        return problem + HINT_TAG + hint if hint else ""
    if hinted_problem is None:
        return hint
    return hinted_problem[len(problem) :].strip() if hinted_problem.startswith(problem) else hinted_problem


# --- answers and hints -----------------------------------------------------------------------------------


def answer_text(value) -> str:
    """A gold answer as a string: integral floats as integers, ``$...$`` stripped. A list is never
    joined here (a join reads as a solution set, `reward`): alternatives go through
    `answer_alternatives`, ordered parts through `ordered_answer`."""
    if isinstance(value, (list, tuple)):
        raise ValueError(f"gold answer {value!r} is a list: read it as alternatives or as an ordered tuple")
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        return str(int(value))
    text = str(value).strip()
    if len(text) >= 2 and text.startswith("$") and text.endswith("$"):
        text = text.strip("$").strip()
    return text


def answer_alternatives(value) -> list[str]:
    """Guide's ``reward_model.ground_truth``: a string, or a list of alternatives any of which is
    correct (``reward.judge`` takes the list); never joined. Empty alternatives are dropped."""
    values = value if isinstance(value, (list, tuple)) else [value]
    return [text for text in (answer_text(v) for v in values) if text]


def ordered_answer(value, multiple: bool = False) -> str:
    """OlympiadBench's ``final_answer`` list: one part as is; several parts, when the row's
    ``is_multiple_answer`` flag is set, as the bare list ``a, b`` (the grader compares it as a set:
    "find all ..."), else as the ordered tuple ``(a, b)``, which the grader compares in order. A
    reading of the flag (OlympiadBench's card: whether the answer has several values)."""
    parts = answer_alternatives(value)
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts) if multiple else "(" + ", ".join(parts) + ")"


HINT_MAX_SENTENCES = 3
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\\$(])|\n+")


def _sentences(solution: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(solution) if s.strip()]


def _find_answer(text: str, answer: str) -> re.Match | None:
    """The answer as a whole token of `text` (not inside a longer number or word)."""
    answer = answer.strip()
    if not answer:
        return None
    return re.search(r"(?<![0-9A-Za-z.])" + re.escape(answer) + r"(?![0-9A-Za-z])", text)


def solution_hint(solution: str, answer: str, max_sentences: int = HINT_MAX_SENTENCES) -> str:
    """The first steps of a reference solution, never its final answer.

    Sentences (or lines) before the first one that shows the result (``\\boxed{}``, ``####``) are the
    candidates; the hint is their first half (at least one, at most `max_sentences`), cut before the
    first sentence containing the final answer as a token. If the very first sentence already
    contains it, the hint is that sentence up to the answer's first occurrence (possibly empty).
    """
    steps = []
    for sentence in _sentences(solution):
        if "\\boxed" in sentence or "\\fbox" in sentence or sentence.startswith("####"):
            break
        steps.append(sentence)
    take = steps[: min(max_sentences, max(1, math.ceil(len(steps) / 2)))]
    hint = []
    for sentence in take:
        found = _find_answer(sentence, answer)
        if found:
            if not hint:
                hint.append(sentence[: found.start()].rstrip(" =:$"))
            break
        hint.append(sentence)
    return " ".join(h for h in hint if h).strip()


# --- sources ---------------------------------------------------------------------------------------------

LOCAL_BUILDERS = {".json": "json", ".jsonl": "json", ".parquet": "parquet", ".csv": "csv"}


def load_table(path: str, split: str = "train", config: str | None = None):
    """`datasets.load_dataset` for a hub id, a local directory or a local json/jsonl/parquet/csv file."""
    from datasets import load_dataset

    local = Path(path).expanduser()
    if local.is_file():
        builder = LOCAL_BUILDERS.get("".join(local.suffixes[-1:]).lower())
        if builder is None:
            raise ValueError(f"{path}: unsupported file type; expected one of {sorted(LOCAL_BUILDERS)}")
        return load_dataset(builder, data_files={split: str(local)}, split=split)
    if str(path).startswith((".", "/", "~")) and not local.exists():
        raise FileNotFoundError(f"data source not found: {local} (a local file or directory, or a hub id)")
    return load_dataset(str(local) if local.is_dir() else path, name=config, split=split)


def _row_math(row, i):
    solution = row["solution"]
    answer = last_boxed(solution)
    level = re.search(r"\d+", str(row.get("level", "")))
    return {"id": f"math-{i:05d}", "problem": row["problem"], "answer": answer, "solution": solution,
            "difficulty": int(level.group()) if level else 0, "subject": row.get("type", "")}  # fmt: skip


def _row_math500(row, i):
    return {"id": row.get("unique_id") or f"math500-{i:03d}", "problem": row["problem"],
            "answer": answer_text(row["answer"]), "solution": row.get("solution", ""),
            "difficulty": int(row.get("level") or 0), "subject": row.get("subject", "")}  # fmt: skip


def _row_aime(prefix):
    def mapper(row, i):
        problem = row.get("problem") or row.get("question") or row.get("Problem")
        answer = row.get("answer", row.get("Answer"))
        rid = row.get("id", row.get("ID", i))
        return {"id": f"{prefix}-{rid}", "problem": problem, "answer": answer_text(answer),
                "solution": row.get("solution") or row.get("Solution") or "", "difficulty": 0}  # fmt: skip

    return mapper


def _row_question_answer(prefix):
    """``question``/``problem`` and ``answer``; a copy without ``answer`` (Qwen2.5-Math's Minerva file:
    ``problem, solution, type, idx``) answers with the last ``\\boxed{}`` of its solution."""

    def mapper(row, i):
        solution = row.get("solution") or ""
        answer = answer_text(row["answer"]) if row.get("answer") is not None else last_boxed(solution)
        return {"id": f"{prefix}-{row.get('id', row.get('idx', i))}", "problem": row.get("question") or row["problem"],
                "answer": answer, "solution": solution, "difficulty": 0}  # fmt: skip

    return mapper


def _row_olympiadbench(row, i):
    """OlympiadBench keeps ``context`` (before the question) and ``unit`` (the answer's unit, stated
    after it): the question is incomplete without them (issue 17)."""
    solution = row.get("solution") or ""
    if isinstance(solution, (list, tuple)):
        solution = "\n".join(solution)
    context, unit = (row.get("context") or "").strip(), (row.get("unit") or "").strip()
    problem = f"{context}\n\n{row['question']}" if context else row["question"]
    if unit:
        problem += f"\n\nGive the answer in {unit}."
    return {"id": f"olympiadbench-{row.get('id', i)}", "problem": problem,
            "answer": ordered_answer(row["final_answer"], bool(row.get("is_multiple_answer"))), "solution": solution, "difficulty": 0}  # fmt: skip


_CALC = re.compile(r"<<[^>]*>>")


def _row_gsm8k(row, i):
    worked, _, final = row["answer"].rpartition("####")
    answer = final.strip().replace(",", "")
    solution = _CALC.sub("", worked).strip() + f"\n#### {answer}"
    return {"id": f"gsm8k-{i:05d}", "problem": row["question"], "answer": answer, "solution": solution,
            "difficulty": 0}  # fmt: skip


def _last_content(messages) -> str:
    if isinstance(messages, str):
        return messages
    return messages[-1]["content"]


def _row_guide(row, i):
    hinted = _last_content(row["hint"]) if row.get("hint") is not None else None
    truths = answer_alternatives(row["reward_model"]["ground_truth"])
    index = (row.get("extra_info") or {}).get("index", i)
    return {"id": f"guide-{index}", "problem": _last_content(row["prompt"]), "verbatim": True,
            "answer": truths[0] if truths else "", "answers": truths, "solution": "", "hinted_problem": hinted, "difficulty": 0,
            "subject": row.get("data_source", "")}  # fmt: skip


#: loader name -> (row mapper, default hub id, default split, default config)
LOADERS: dict[str, tuple[Callable, str, str, str | None]] = {
    "math": (_row_math, "DigitalLearningGmbH/MATH-lighteval", "train", None),
    "math500": (_row_math500, "HuggingFaceH4/MATH-500", "test", None),
    "aime24": (_row_aime("aime24"), "HuggingFaceH4/aime_2024", "train", None),
    "aime25": (_row_aime("aime25"), "math-ai/aime25", "test", None),
    "amc23": (_row_question_answer("amc23"), "math-ai/amc23", "test", None),
    "minerva": (_row_question_answer("minerva"), "math-ai/minervamath", "test", None),
    "olympiadbench": (_row_olympiadbench, "Hothan/OlympiadBench", "train", "OE_TO_maths_en_COMP"),
    "gsm8k": (_row_gsm8k, "openai/gsm8k", "test", "main"),
    "guide": (_row_guide, "vaskarnath/guide_math_rl_dataset", "train", None),
}
GSM8K_STYLE_LOADERS = {"gsm8k"}  # every other source answers in \\boxed{} (module docstring)


def load_source(source: dict, split_name: str, template: str = "plain") -> list[dict]:
    """Read one configured source ``{loader, path?, split?, config?, max_rows?, answer_format?}`` as
    project records.

    Rows whose answer cannot be read (e.g. a MATH solution without ``\\boxed{}``) are dropped; the
    count is returned in the records' ``source`` stats by `write_hub_splits`.
    """
    name = source["loader"]
    if name not in LOADERS:
        raise ValueError(f"unknown loader {name!r}; valid loaders: {sorted(LOADERS)}")
    mapper, default_path, default_split, default_config = LOADERS[name]
    render_prompt("", template)  # an unknown template fails before anything is read
    path = source.get("path") or default_path
    table = load_table(path, source.get("split") or default_split, source.get("config", default_config))
    answer_format = source.get("answer_format") or ("gsm8k" if name in GSM8K_STYLE_LOADERS else "boxed")
    records, seen = [], set()
    for i, raw in enumerate(table):
        row = mapper(raw, i)
        if not row["answer"]:
            continue
        rid = str(row["id"])
        if rid in seen:  # ids must be unique within a file (e.g. a repeated extra_info.index)
            rid = f"{rid}-{i}"
        seen.add(rid)
        problem = row["problem"] if row.get("verbatim") else row["problem"].strip()
        derived = solution_hint(row["solution"], row["answer"]) if row["solution"] else ""
        hint = record_hint(problem, template, derived, row.get("hinted_problem"))
        records.append({"id": rid, "prompt": render_prompt(problem, template), "answer": row["answer"],
                        "answers": row.get("answers") or [row["answer"]], "solution": row["solution"], "hint": hint, "difficulty": row["difficulty"],
                        "split": split_name, "source": name, "answer_format": answer_format,
                        "problem": problem})  # fmt: skip
        if source.get("max_rows") and len(records) >= source["max_rows"]:
            break
    if not records:
        raise ValueError(f"{path} ({name}, split {source.get('split') or default_split}): no usable rows")
    return records


def _norm(text: str) -> str:
    return " ".join(text.split()).lower()


def write_hub_splits(spec: dict, out_dir: str | Path) -> dict[str, Path]:
    """Write ``rl.jsonl``, ``sft.jsonl`` and one ``<benchmark>.jsonl`` per benchmark; return the paths.

    ``sft.jsonl`` comes from ``spec["sft"]`` when given, else it is the training source (read only by
    an SFT warm start, which paper-scale configs switch off with ``sft.steps: 0``, and by the
    SFT-continue control), keeping rows that have a solution. Training rows whose
    problem text equals a benchmark problem (whitespace and case folded) are dropped (decontamination).
    """
    template = spec.get("template", "plain")
    out_dir = Path(out_dir)
    benches = {name: load_source(src, name, template) for name, src in spec["benchmarks"].items()}
    held_out = {_norm(r["problem"]) for rows in benches.values() for r in rows}
    train = load_source(spec["train"], "rl", template)
    kept = [r for r in train if _norm(r["problem"]) not in held_out]
    print(
        f"rl: {len(train)} rows from {spec['train']['loader']}, {len(train) - len(kept)} dropped as benchmark duplicates"
    )
    sft = (
        load_source(spec["sft"], "sft", template)
        if spec.get("sft")
        else [{**r, "split": "sft"} for r in kept]
    )
    sft = [r for r in sft if r["solution"] and _norm(r["problem"]) not in held_out]  # SFT needs a solution
    paths = {"rl": out_dir / "rl.jsonl", "sft": out_dir / "sft.jsonl"}
    write_jsonl(paths["rl"], kept)
    write_jsonl(paths["sft"], sft)
    for name, rows in benches.items():
        paths[name] = out_dir / f"{name}.jsonl"
        write_jsonl(paths[name], rows)
    return paths
