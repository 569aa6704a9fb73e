"""DAPO (rl/dapo.py): the soft overlong penalty, overlong filtering, dynamic sampling with refill."""

import pytest
import torch
from rl_helpers import (
    G,
    batch,
    completions,
    current_logps,
    generate,
    make_trainer,
    perturb,
    rewarder,
    tiny_model,
)

from rlvr_repro.rl import core
from rlvr_repro.rl.dapo import soft_overlong_penalty
from rlvr_repro.tasks import HINT_TAG


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tiny_model(tmp_path_factory)


def test_soft_overlong_penalty_eq13():
    # L_max 10, L_cache 4: no penalty up to 6, then (6 - |y|) / 4 down to -1 at the cap, -1 beyond it
    lengths = torch.tensor([0, 5, 6, 7, 9, 10, 11])
    expected = [0.0, 0.0, 0.0, -0.25, -0.75, -1.0, -1.0]
    assert torch.allclose(soft_overlong_penalty(lengths, 10, 4), torch.tensor(expected))
    assert torch.allclose(soft_overlong_penalty(lengths, 10, 4, factor=0.5), 0.5 * torch.tensor(expected))
    # no window: only lengths past the cap are punished
    assert soft_overlong_penalty(lengths, 10, 0).tolist() == [0.0] * 6 + [-1.0]


def test_overlong_shapes_rewards_and_filters_truncated(model_dir, tmp_path):
    # cache_frac .25 of L_max 16 = 4: penalty min(0, (12 - |y|) / 4); a random model often hits the cap
    reward = rewarder(lambda pid, hinted, i: i % 2 == 0)
    overlong = {"enabled": True, "cache_frac": 0.25, "penalty_factor": 1.0, "filter": True}
    trainer = make_trainer(model_dir, tmp_path, reward, overlong=overlong)
    out = generate(trainer, batch("a", "b"))
    lengths = out["completion_mask"].sum(1).float()
    eos = torch.tensor(trainer.eos_token_ids)
    cut = ~(torch.isin(out["completion_ids"], eos) & out["completion_mask"].bool()).any(1)
    assert 0 < cut.sum() < 8 and (lengths > 12).any()  # the data exercises both cases
    rewards = torch.tensor(reward.calls[0]["rewards"]) + torch.clamp((12 - lengths) / 4, max=0.0)
    expected, _ = core.grpo_advantages(rewards, G)
    assert torch.allclose(out["advantages"], expected, atol=1e-6)
    assert out["keep"].tolist() == (~cut).float().tolist()
    kept_tokens = (out["completion_mask"] * (~cut)[:, None]).sum()
    assert out["num_items_in_batch"].item() == kept_tokens.item()


def one_problem_refill(model_dir, tmp_path, table, **refill):
    """Dataset of problem c only, so every refill round draws c twice; steps bring prompts a and b."""
    spec = {"enabled": True, "max_rounds": 4, "carry_over": True, **refill}
    return make_trainer(model_dir, tmp_path, rewarder(table), dataset=["c"], filter_groups=True, refill=spec)


def prompts_of(trainer, out):
    tok = trainer.processing_class
    text = [tok.decode(ids[m.bool()]) for ids, m in zip(out["prompt_ids"], out["prompt_mask"], strict=True)]
    return [next(pid for pid, q in (("a", "1+1"), ("b", "2*3"), ("c", "9-4")) if q in t) for t in text]


def text(trainer, ids):
    return trainer.processing_class.decode(ids, skip_special_tokens=True)


def last(trainer, key):
    return trainer._metrics["train"][key][-1]


def test_refill_rounds_buffer_and_carry_over(model_dir, tmp_path):
    # a: all correct (uninformative); b, c: mixed
    table = lambda pid, hinted, i: pid == "a" or i % 2 == 0  # noqa: E731
    trainer = one_problem_refill(model_dir, tmp_path, table)
    reward = trainer.reward_funcs[0]
    out = generate(trainer, batch("a", "b"))
    # round 1: [a, b] -> b informative; round 2 draws [c, c] -> both informative: pool [b, c, c]
    assert len(reward.calls) == 2
    assert prompts_of(trainer, out) == ["b"] * G + ["c"] * G
    assert out["keep"].tolist() == [1.0] * 2 * G
    for i in range(G):  # the rows are the rounds' own completions
        assert text(trainer, completions(out, i)) == reward.calls[0]["completions"][G + i]
        assert text(trainer, completions(out, G + i)) == reward.calls[1]["completions"][i]
    assert (last(trainer, "refill/rounds"), last(trainer, "refill/rollouts")) == (2, 4 * G)
    assert (last(trainer, "refill/informative_prompts"), last(trainer, "refill/buffer")) == (2, 1)
    # the second c group of round 2 is carried over
    (carried,) = trainer.sampler.buffer
    decoded = [text(trainer, completions(carried, i)) for i in range(G)]
    assert decoded == reward.calls[1]["completions"][G:]

    # next step, prompts [a, a]: the buffer's c first, round 1 [a, a] adds nothing, round 2 [c, c]
    out = generate(trainer, batch("a", "a"), seed=1)
    assert len(reward.calls) == 4
    assert prompts_of(trainer, out) == ["c"] * 2 * G
    for i in range(G):
        assert text(trainer, completions(out, i)) == decoded[i]
        assert text(trainer, completions(out, G + i)) == reward.calls[3]["completions"][i]
    assert (last(trainer, "refill/from_buffer"), last(trainer, "refill/rounds")) == (1, 2)
    assert len(trainer.sampler.buffer) == 1


def test_refill_cap_leaves_uninformative_slots_masked(model_dir, tmp_path):
    # c is all correct too: no round can fill the second slot; max_rounds 3 stops it
    table = lambda pid, hinted, i: pid != "b" or i % 2 == 0  # noqa: E731
    trainer = one_problem_refill(model_dir, tmp_path, table, max_rounds=3)
    out = generate(trainer, batch("a", "b"))
    assert len(trainer.reward_funcs[0].calls) == 3
    assert prompts_of(trainer, out) == ["b"] * G + ["a"] * G  # the first spare group fills the slot
    assert out["keep"].tolist() == [1.0] * G + [0.0] * G
    assert out["num_items_in_batch"].item() == out["completion_mask"][:G].sum().item()
    assert (last(trainer, "refill/rounds"), last(trainer, "refill/rollouts")) == (3, 6 * G)
    assert last(trainer, "refill/frac_informative") == 0.5


def test_refill_off_is_mask_only(model_dir, tmp_path):
    table = lambda pid, hinted, i: pid == "a" or i % 2 == 0  # noqa: E731
    trainer = one_problem_refill(model_dir, tmp_path, table, enabled=False)
    out = generate(trainer, batch("a", "b"))
    assert len(trainer.reward_funcs[0].calls) == 1
    assert prompts_of(trainer, out) == ["a"] * G + ["b"] * G
    assert out["keep"].tolist() == [0.0] * G + [1.0] * G
    assert last(trainer, "refill/rounds") == 1 and not trainer.sampler.buffer


def test_carried_over_groups_get_old_logps_of_the_current_policy(model_dir, tmp_path):
    # two updates per rollout batch: TRL takes old log-probs; the carried-over group's are taken again
    table = lambda pid, hinted, i: pid == "a" or i % 2 == 0  # noqa: E731
    trainer = make_trainer(
        model_dir, tmp_path, rewarder(table), dataset=["c"], filter_groups=True, prompts_per_update=1,
        refill={"enabled": True, "max_rounds": 4, "carry_over": True},
    )  # fmt: skip
    generate(trainer, batch("a", "b"))
    (carried,) = trainer.sampler.buffer
    stale = carried["old_per_token_logps"].clone()
    perturb(trainer.model)
    out = generate(trainer, batch("a", "a"), seed=1)
    cur = current_logps(trainer, out)
    m = out["completion_mask"][:G].bool()
    assert torch.allclose(out["old_per_token_logps"][:G][m], cur[:G][m], atol=1e-5)
    assert (out["old_per_token_logps"][:G][m] - stale[m]).abs().max() > 1e-2


def test_guide_resampling_runs_inside_each_refill_round(model_dir, tmp_path):
    """guide_rl's order: round 1 = plain [a, b] -> a (all failed) re-sampled with its hint, mixed, kept;
    b all correct, dropped; round 2 = fresh [c, c], both mixed: batch [a hinted, c], c carried over."""

    def table(pid, hinted, i):
        return (pid == "a" and i % 2 == 0) if hinted else (pid == "b" or (pid == "c" and i % 2 == 0))

    guide = {"enabled": True, "shaping": "percentile", "ratio_context": "hinted"}
    refill = {"enabled": True, "max_rounds": 4, "carry_over": True}
    trainer = make_trainer(
        model_dir, tmp_path, rewarder(table), dataset=["c"], filter_groups=True, refill=refill, guide=guide
    )
    reward = trainer.reward_funcs[0]
    out = generate(trainer, batch("a", "b"))
    # reward calls in guide_rl's order: round 1 plain [a, b], a with its hint, round 2 plain [c, c]
    assert [len(c["prompts"]) for c in reward.calls] == [2 * G, G, 2 * G]
    assert all(HINT_TAG in p for p in reward.calls[1]["prompts"])
    assert not any(HINT_TAG in p for p in reward.calls[0]["prompts"] + reward.calls[2]["prompts"])
    assert prompts_of(trainer, out) == ["a"] * G + ["c"] * G
    assert out["hinted"].tolist() == [True] * G + [False] * G
    assert out["keep"].tolist() == [1.0] * 2 * G
    assert torch.isfinite(out["old_per_token_logps"][:G][out["completion_mask"][:G].bool()]).all()
    assert last(trainer, "refill/rounds") == 2
    assert last(trainer, "refill/rollouts") == 5 * G  # 2 plain rounds of 2 groups + 1 hinted group
    assert len(trainer.sampler.buffer) == 1 and not trainer.sampler.buffer[0]["hinted"].any()
