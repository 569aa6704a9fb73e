"""Shared helpers of the RL trainer tests: a tiny random model, a reward table, hand-made batches."""

import torch
from datasets import Dataset

from rlvr_repro.models import build_model, load_model, load_tokenizer
from rlvr_repro.rl.train import grpo_config
from rlvr_repro.rl.trainer import RLVRTrainer
from rlvr_repro.tasks import HINT_TAG, make_prompt

torch.set_num_threads(1)

G = 4
SPEC = {
    "steps": 2,
    "prompts_per_step": 2,
    "num_generations": G,
    "max_completion_length": 16,
    "learning_rate": 1e-3,
    "temperature": 1.0,
    "beta": 0.0,
    "save_steps": 100,
    "loss": "token-mean",
    "advantage": {"name": "grpo", "scale": "group"},
    "clip": {"name": "fixed", "eps_low": 0.2, "eps_high": 0.2},
    "filter_groups": False,
    "guide": {"enabled": False},
}
GUIDE = {"enabled": True, "shaping": "percentile", "ratio_context": "hinted"}
PROBLEMS = {
    "a": {"q": "1+1", "answer": "2", "hint": "one plus one"},
    "b": {"q": "2*3", "answer": "6", "hint": "two threes"},
    "c": {"q": "9-4", "answer": "5", "hint": "count down"},
}


def row(pid: str) -> dict:
    p = PROBLEMS[pid]
    return {
        "prompt": make_prompt(p["q"]),
        "answer": p["answer"],
        "hint": p["hint"],
        "difficulty": 1,
        "id": pid,
    }


def batch(*pids: str) -> list[dict]:
    """The trainer's layout: each prompt repeated G times, groups contiguous."""
    return [row(pid) for pid in pids for _ in range(G)]


def tiny_model(tmp_path_factory) -> str:
    """A random tiny Qwen2 (call it from a module-scoped `model_dir` fixture)."""
    path = tmp_path_factory.mktemp("tiny")
    build_model("tiny", path, seed=0)
    return str(path)


def make_trainer(model_dir, tmp_path, reward_fn, n_groups=2, dataset=None, **overrides):
    spec = {**SPEC, "prompts_per_step": n_groups, **overrides}
    args = grpo_config(spec, tmp_path / "work", seed=0)
    args.report_to = []
    ds = Dataset.from_list([row(pid) for pid in (dataset or PROBLEMS)])
    trainer = RLVRTrainer(
        model=load_model(model_dir),
        reward_funcs=[reward_fn],
        args=args,
        train_dataset=ds,
        processing_class=load_tokenizer(model_dir),
        method=spec,
    )
    trainer.model.train()
    trainer.current_gradient_accumulation_steps = 1  # set by the HF training loop; we call the hooks directly
    return trainer


def generate(trainer, rows, seed=0):
    torch.manual_seed(seed)
    return trainer._generate_and_score_completions(rows)


def rewarder(table):
    """Reward = table(id, hinted?, index in the call's list); records every call."""

    calls = []

    def reward(prompts, completions, id, **kwargs):  # noqa: A002 - TRL passes dataset columns by name
        out = [
            float(table(pid, HINT_TAG in p, i)) for i, (p, pid) in enumerate(zip(prompts, id, strict=True))
        ]
        calls.append({"prompts": list(prompts), "completions": list(completions), "rewards": out})
        return out

    reward.calls = calls
    return reward


def completions(out, i):
    """Unpadded completion token ids of row i."""
    n = int(out["completion_mask"][i].sum())
    return out["completion_ids"][i, :n].tolist()


@torch.no_grad()
def logps(model, prompt_ids, completion_ids):
    """log pi(c_t | prompt, c_<t) by one unpadded forward (independent of TRL's batching)."""
    ids = torch.tensor([list(prompt_ids) + list(completion_ids)])
    logits = model(input_ids=ids).logits[0, len(prompt_ids) - 1 : -1].float()
    return logits.log_softmax(-1).gather(1, torch.tensor(completion_ids)[:, None])[:, 0]


def current_logps(trainer, out):
    """(B, T) log-probs of every row's completion under its PLAIN prompt, zero on padding."""
    res = torch.zeros(out["completion_ids"].shape)
    for i in range(res.size(0)):
        prompt = out["prompt_ids"][i][out["prompt_mask"][i].bool()].tolist()
        c = completions(out, i)
        res[i, : len(c)] = logps(trainer.model, prompt, c)
    return res


def perturb(model, scale=0.05, seed=123):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * scale)


def hand_loss(out, cur, old, shaping_q=0.9, beta=0.0):
    """Guide + PPO-clip surrogate (+ beta * k3 KL) by hand, token-mean over kept tokens / num_items_in_batch."""
    total = 0.0
    for i in range(cur.size(0)):
        n = int(out["completion_mask"][i].sum())
        r = torch.exp(cur[i, :n] - old[i, :n]).double()
        a = out["advantages"][i].item()
        if out["hinted"][i]:
            gamma = max(torch.quantile(r, shaping_q).item(), 1e-4)
            per = -(r / (r + gamma)) * a
        else:
            lo, hi = 1 - out["eps_low_i"][i].item(), 1 + out["eps_high_i"][i].item()
            per = -torch.minimum(r * a, r.clamp(lo, hi) * a)
        if beta:
            d = (out["ref_per_token_logps"][i, :n] - cur[i, :n]).double()
            per = per + beta * (torch.exp(d) - d - 1)
        total += per.sum().item() * out["keep"][i].item()
    return total / out["num_items_in_batch"].item()


T = torch.tensor  # short for the hand-written tensors of the tests


def close(a, b, tol=1e-5):
    return torch.allclose(
        torch.as_tensor(a, dtype=torch.float), torch.as_tensor(b, dtype=torch.float), atol=tol
    )


def adv_inputs(correct, lengths=None, truncated=None):
    correct = T(correct, dtype=torch.bool)
    n = correct.numel()
    lengths = T(lengths if lengths is not None else [10] * n)
    truncated = T(truncated if truncated is not None else [False] * n)
    return {"correct": correct, "lengths": lengths, "truncated": truncated}
