"""RLVRTrainer (TRL GRPOTrainer subclass) on a tiny random character-level Qwen2, on CPU.

Numbers are checked against TRL's own `_compute_loss`, against `rlvr_repro.rl`, and against losses and
log-probs recomputed here by hand with independent unpadded forwards of the model.
"""

import json
import math

import pytest
import torch
from rl_helpers import (
    GUIDE,
    SPEC,
    G,
    batch,
    completions,
    current_logps,
    generate,
    hand_loss,
    logps,
    make_trainer,
    perturb,
    rewarder,
    row,
    tiny_model,
)
from transformers import TrainerCallback
from trl import GRPOConfig, GRPOTrainer

from rlvr_repro import sampling
from rlvr_repro.jsonl import write_jsonl
from rlvr_repro.models import load_model
from rlvr_repro.rl import core, train
from rlvr_repro.rl.adora import adora_advantages
from rlvr_repro.rl.etr import etr_clip_range
from rlvr_repro.rl.train import grpo_config
from rlvr_repro.rl.trainer import RLVRTrainer
from rlvr_repro.tasks import make_prompt, with_hint


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tiny_model(tmp_path_factory)


# ---------------------------------------------------------------------------------------------------
# 1. Parity with TRL's GRPOTrainer._compute_loss
# ---------------------------------------------------------------------------------------------------


def mixed(pid, hinted, i):
    return i % 3 == 0  # every group of 4 has 1 or 2 successes


@pytest.mark.parametrize("loss", ["token-mean", "seq-mean", "dr-grpo"])
def test_loss_matches_trl(model_dir, tmp_path, loss):
    trainer = make_trainer(model_dir, tmp_path, rewarder(mixed), loss=loss)
    assert trainer.loss_type == core.TRL_LOSS_TYPE[loss]
    out = generate(trainer, batch("a", "b"))
    assert "old_per_token_logps" not in out  # on-policy: TRL skips it, both use ratio 1
    assert out["advantages"].abs().min() > 0.1

    # ratio 1 (no old log-probs), then off-policy: old log-probs taken before a weight perturbation
    old, _, _ = trainer._get_per_token_logps_and_entropies(
        trainer.model,
        torch.cat([out["prompt_ids"], out["completion_ids"]], 1),
        torch.cat([out["prompt_mask"], out["completion_mask"]], 1),
        out["completion_ids"].size(1),
    )
    ours0 = trainer._compute_loss(trainer.model, out)
    trl0 = GRPOTrainer._compute_loss(trainer, trainer.model, out)
    assert abs(ours0.item() - trl0.item()) < 1e-6

    perturb(trainer.model)
    off = {**out, "old_per_token_logps": old.detach()}
    ratio = torch.exp(current_logps(trainer, out) - old)
    m = out["completion_mask"].bool()
    assert ((ratio[m] > 1.2) | (ratio[m] < 0.8)).float().mean() > 0.2  # clipping is active

    trainer.model.zero_grad()
    ours = trainer._compute_loss(trainer.model, off)
    ours.backward()
    g_ours = [p.grad.clone() for p in trainer.model.parameters()]
    trainer.model.zero_grad()
    trl = GRPOTrainer._compute_loss(trainer, trainer.model, off)
    trl.backward()
    g_trl = [p.grad.clone() for p in trainer.model.parameters()]
    assert abs(ours.item() - trl.item()) < 1e-6
    assert abs(ours.item() - ours0.item()) > 1e-3 and abs(ours.item()) > 1e-3  # off-policy: a real loss
    assert max((a - b).abs().max().item() for a, b in zip(g_ours, g_trl, strict=True)) < 1e-6


def test_grpo_advantages_match_trl_with_trl_eps(model_dir, tmp_path):
    """Same rollouts (same seed): our grpo estimator with eps=1e-4 reproduces TRL's advantages."""
    trainer = make_trainer(model_dir, tmp_path, rewarder(mixed), advantage={"name": "grpo", "eps": 1e-4})
    ours = generate(trainer, batch("a", "b"))
    trainer._generation_calls = [-1, 0]  # replay the step's first generation call (its uniforms)
    trl = GRPOTrainer._generate_and_score_completions(trainer, batch("a", "b"))
    assert torch.equal(ours["completion_ids"], trl["completion_ids"])
    assert torch.allclose(ours["advantages"], trl["advantages"], atol=1e-6)
    # p = 1/2 in group a (rows 0, 3 of 0..3) and 1/4 in group b (row 6): A = (R - p) / (std + 1e-4)
    s2, s4 = math.sqrt(1 / 3), 0.5
    expected = [0.5 / (s2 + 1e-4), -0.5 / (s2 + 1e-4), -0.5 / (s2 + 1e-4), 0.5 / (s2 + 1e-4)]
    expected += [-0.25 / (s4 + 1e-4), -0.25 / (s4 + 1e-4), 0.75 / (s4 + 1e-4), -0.25 / (s4 + 1e-4)]
    assert torch.allclose(ours["advantages"], torch.tensor(expected), atol=1e-5)


# ---------------------------------------------------------------------------------------------------
# 2. Filter-GRPO
# ---------------------------------------------------------------------------------------------------


def test_filter_groups_drops_all_equal_groups(model_dir, tmp_path):
    reward = rewarder(lambda pid, hinted, i: pid == "a" or i % 2 == 0)  # group a all 1, group b mixed
    on = make_trainer(model_dir, tmp_path, reward, filter_groups=True)
    off = make_trainer(model_dir, tmp_path, reward, filter_groups=False)
    out_on, out_off = generate(on, batch("a", "b")), generate(off, batch("a", "b"))
    assert torch.equal(out_on["completion_ids"], out_off["completion_ids"])
    mask = out_on["completion_mask"]
    assert out_on["keep"].tolist() == [0.0] * 4 + [1.0] * 4
    assert out_off["keep"].tolist() == [1.0] * 8
    assert out_on["num_items_in_batch"].item() == mask[4:].sum().item() < mask.sum().item()
    assert out_off["num_items_in_batch"].item() == mask.sum().item()

    # off-policy old log-probs so the surrogate is not trivially -A on every token
    cur = current_logps(on, out_on)
    old = cur + 0.3 * torch.randn(cur.shape, generator=torch.Generator().manual_seed(3))
    out_on, out_off = ({**o, "old_per_token_logps": old} for o in (out_on, out_off))

    # group a contributes nothing, whatever its advantages say
    loss = on._compute_loss(on.model, out_on).item()
    assert abs(loss) > 1e-3
    assert loss == pytest.approx(hand_loss(out_on, cur, old), abs=1e-5)
    poisoned = {**out_on, "advantages": out_on["advantages"].clone()}
    poisoned["advantages"][:4] = 5.0
    assert on._compute_loss(on.model, poisoned).item() == pytest.approx(loss, abs=1e-7)
    assert off._compute_loss(off.model, {**poisoned, "keep": out_off["keep"]}).item() != pytest.approx(
        off._compute_loss(off.model, out_off).item(), abs=1e-3
    )
    # A = 0 in group a, so the sums agree and only the normaliser differs: kept tokens vs all tokens
    loss_off = off._compute_loss(off.model, out_off).item()
    assert loss * mask[4:].sum().item() == pytest.approx(loss_off * mask.sum().item(), rel=1e-5)
    assert on._metrics["train"]["frac_kept"][-1] == 0.5


def test_seq_mean_divides_by_kept_sequences_of_the_whole_update(model_dir, tmp_path):
    """seq-mean under filtering, one group per micro-batch, two micro-batches per update: the update's
    loss is the mean over the KEPT sequences (group b), not over all rows of each micro-batch."""
    reward = rewarder(lambda pid, hinted, i: pid == "a" or i % 2 == 0)  # group a all 1 (removed), b mixed
    trainer = make_trainer(
        model_dir, tmp_path, reward, filter_groups=True, loss="seq-mean", per_device_train_batch_size=G
    )
    assert (trainer.args.gradient_accumulation_steps, trainer.args.steps_per_generation) == (2, 2)
    trainer.current_gradient_accumulation_steps = 2
    out = generate(trainer, batch("a", "b"))
    assert out["num_seqs_in_batch"].item() == G
    cur = current_logps(trainer, out)
    old = cur + 0.3 * torch.randn(cur.shape, generator=torch.Generator().manual_seed(4))
    off = {**out, "old_per_token_logps": old}
    halves = [{k: (v[s] if torch.is_tensor(v) and v.dim() else v) for k, v in off.items()} for s in
              (slice(0, G), slice(G, 2 * G))]  # fmt: skip
    total = sum(trainer._compute_loss(trainer.model, h).item() for h in halves)
    per_seq = []
    for i in range(G, 2 * G):  # group b, by hand
        n = int(out["completion_mask"][i].sum())
        r = torch.exp(cur[i, :n] - old[i, :n]).double()
        a = out["advantages"][i].item()
        per_seq.append((-torch.minimum(r * a, r.clamp(0.8, 1.2) * a)).mean().item())
    assert abs(sum(per_seq)) > 1e-4
    assert total == pytest.approx(sum(per_seq) / G, abs=1e-6)  # not / (2 G)


# ---------------------------------------------------------------------------------------------------
# 3. Guide-GRPO
# ---------------------------------------------------------------------------------------------------


def guide_table(pid, hinted, i):
    """Plain: a and b all fail, c mixed. Hinted (list = groups a, b): a mixed (2/4), b all fail."""
    if not hinted:
        return pid == "c" and i % 2 == 0
    return pid == "a" and i % 2 == 0


def spy_generate(trainer):
    calls = []
    inner = trainer._generate

    def spy(prompts):
        res = inner(prompts)
        calls.append({"prompts": list(prompts), "prompt_ids": res[0], "completion_ids": res[1]})
        return res

    trainer._generate = spy
    return calls


def test_guide_resamples_failed_groups_with_hint(model_dir, tmp_path):
    reward = rewarder(guide_table)
    trainer = make_trainer(model_dir, tmp_path, reward, n_groups=3, guide=GUIDE)
    tok = trainer.processing_class
    calls = spy_generate(trainer)
    rows = batch("a", "b", "c")
    out = generate(trainer, rows)

    # two generations: the plain batch, then groups a and b with the hint in context
    assert len(calls) == 2
    assert calls[1]["prompts"] == [with_hint(r["prompt"], r["hint"]) for r in rows[:8]]
    assert reward.calls[1]["rewards"] == [1.0, 0.0, 1.0, 0.0] + [0.0] * 4

    # (a) group a is replaced by its hinted rollouts; b (hinted group all failed) and c stay plain
    assert out["hinted"].tolist() == [True] * 4 + [False] * 8
    for i in range(12):
        source = calls[1] if i < 4 else calls[0]
        assert completions(out, i) == source["completion_ids"][i]
    assert completions(out, 4) != calls[1]["completion_ids"][4]  # (c) b's hinted rollouts unused
    p_a = torch.tensor([1.0, 0.0, 1.0, 0.0])
    expected_adv = torch.cat(
        [(p_a - 0.5) / (p_a.std() + 1e-6), torch.zeros(4), (p_a - 0.5) / (p_a.std() + 1e-6)]
    )
    assert torch.allclose(out["advantages"], expected_adv, atol=1e-6)
    assert trainer._metrics["train"]["guide/frac_hinted"][-1] == pytest.approx(2 / 3)
    assert trainer._metrics["train"]["guide/frac_replaced"][-1] == pytest.approx(1 / 3)
    # rollout stats are those of the plain pass only (one entry, 12 completions)
    assert len(trainer._metrics["train"]["completions/mean_length"]) == 1

    # training context stays plain: prompt_ids of hinted rows encode the plain prompt
    for i in range(4):
        prompt = out["prompt_ids"][i][out["prompt_mask"][i].bool()].tolist()
        assert prompt == tok(rows[i]["prompt"])["input_ids"] == calls[0]["prompt_ids"][i]
        assert tok(rows[i]["prompt"])["input_ids"] != calls[1]["prompt_ids"][i]

    # (b) old log-probs of hinted rows: hinted context; plain rows: NaN (ratio 1 on the plain context)
    old = out["old_per_token_logps"]
    for i in range(4):
        c = completions(out, i)
        hinted_lp = logps(trainer.model, tok(with_hint(rows[i]["prompt"], rows[i]["hint"]))["input_ids"], c)
        plain_lp = logps(trainer.model, tok(rows[i]["prompt"])["input_ids"], c)
        assert torch.allclose(old[i, : len(c)], hinted_lp, atol=1e-5)
        assert (old[i, : len(c)] - plain_lp).abs().max() > 1e-2
    assert torch.isnan(old[4:][out["completion_mask"][4:].bool()]).all()

    # the training forward sees the plain prompt
    seen = []
    inner = trainer._get_per_token_logps_and_entropies

    def spy_forward(model, input_ids, *args, **kwargs):
        seen.append(input_ids)
        return inner(model, input_ids, *args, **kwargs)

    trainer._get_per_token_logps_and_entropies = spy_forward
    loss = trainer._compute_loss(trainer.model, out)
    assert torch.equal(seen[0], torch.cat([out["prompt_ids"], out["completion_ids"]], 1))
    assert all("Hint" not in tok.decode(ids) for ids in seen[0])

    # (e) the loss by hand; plain rows made off-policy so that their clip is active too
    cur = current_logps(trainer, out)
    m = out["completion_mask"].bool()
    plain_old = cur + 0.3 * torch.randn(cur.shape, generator=torch.Generator().manual_seed(1))
    off = {**out, "old_per_token_logps": torch.where(out["hinted"][:, None], old, plain_old)}
    r_plain = torch.exp(cur - plain_old)[8:][m[8:]]
    assert ((r_plain > 1.2) | (r_plain < 0.8)).any()
    hand_on = hand_loss(out, cur, torch.where(torch.isnan(old), cur, old))
    hand_off = hand_loss(off, cur, off["old_per_token_logps"])
    assert loss.item() == pytest.approx(hand_on, abs=1e-5)
    assert trainer._compute_loss(trainer.model, off).item() == pytest.approx(hand_off, abs=1e-5)
    assert abs(hand_off - hand_on) > 1e-5  # measured 4.6e-5: A sums to 0 in group c, so r mostly cancels


def test_guide_ratio_context_plain_ablation(model_dir, tmp_path):
    """guide_noplain (guide_rl importance_weighted_reroll=False): old log-probs of hinted rows are taken at
    rollout time on the PLAIN context, so r = 1 on the first update and r != 1 after an update."""
    trainer = make_trainer(
        model_dir, tmp_path, rewarder(guide_table), n_groups=3, guide={**GUIDE, "ratio_context": "plain"}
    )
    out = generate(trainer, batch("a", "b", "c"))
    tok, rows = trainer.processing_class, batch("a", "b", "c")
    assert out["hinted"].tolist() == [True] * 4 + [False] * 8
    old = out["old_per_token_logps"]
    for i in range(4):
        c = completions(out, i)
        plain_lp = logps(trainer.model, tok(rows[i]["prompt"])["input_ids"], c)
        assert torch.allclose(old[i, : len(c)], plain_lp, atol=1e-5)
    assert torch.isnan(old[4:][out["completion_mask"][4:].bool()]).all()
    # first update: ratio 1 on every token, so hinted tokens get shape(1) = 1 / (1 + 1) with gamma = quantile(1) = 1
    cur = current_logps(trainer, out)
    expected = hand_loss(out, cur, cur)
    a = out["advantages"]
    n = out["completion_mask"].sum(1).float()
    by_formula = (-(0.5 * a[:4] * n[:4]).sum() - (a[8:] * n[8:]).sum()) / n.sum()
    assert expected == pytest.approx(by_formula.item(), abs=1e-6)
    assert trainer._compute_loss(trainer.model, out).item() == pytest.approx(expected, abs=1e-5)
    # second (off-policy) update: the plain-context ratio of hinted rows moves away from 1
    perturb(trainer.model)
    cur = current_logps(trainer, out)
    full_old = torch.where(torch.isnan(old), cur, old)
    r = torch.exp(cur - full_old)[:4][out["completion_mask"][:4].bool()]
    assert (r - 1).abs().max() > 0.05
    off = hand_loss(out, cur, full_old)
    assert trainer._compute_loss(trainer.model, out).item() == pytest.approx(off, abs=1e-5)
    assert abs(off - hand_loss(out, cur, torch.where(out["hinted"][:, None], cur, full_old))) > 1e-4


def test_guide_with_kl_scores_hinted_completions_under_reference(model_dir, tmp_path):
    """beta > 0: ref log-probs of replaced rows are for the hinted completion on the plain prompt."""
    trainer = make_trainer(model_dir, tmp_path, rewarder(guide_table), n_groups=3, guide=GUIDE, beta=0.04)
    perturb(trainer.model)  # policy != reference
    out = generate(trainer, batch("a", "b", "c"))
    assert out["hinted"].tolist() == [True] * 4 + [False] * 8
    tok, rows = trainer.processing_class, batch("a", "b", "c")
    for i in range(12):
        c = completions(out, i)
        ref = logps(trainer.ref_model, tok(rows[i]["prompt"])["input_ids"], c)
        assert torch.allclose(out["ref_per_token_logps"][i, : len(c)], ref, atol=1e-5), i
    cur = current_logps(trainer, out)
    old = torch.where(torch.isnan(out["old_per_token_logps"]), cur, out["old_per_token_logps"])
    expected = hand_loss(out, cur, old, beta=0.04)
    assert abs(expected - hand_loss(out, cur, old)) > 1e-4  # the KL term matters
    assert trainer._compute_loss(trainer.model, out).item() == pytest.approx(expected, abs=1e-5)


def test_guide_without_mixed_hinted_group_changes_nothing(model_dir, tmp_path):
    reward = rewarder(lambda pid, hinted, i: not hinted and pid == "c" and i % 2 == 0)
    trainer = make_trainer(model_dir, tmp_path, reward, n_groups=3, guide=GUIDE)
    calls = spy_generate(trainer)
    out = generate(trainer, batch("a", "b", "c"))
    assert len(calls) == 2  # the hinted pass ran, found no mixed group
    assert not out["hinted"].any()
    assert "old_per_token_logps" not in out
    for i in range(12):
        assert completions(out, i) == calls[0]["completion_ids"][i]
    assert trainer._metrics["train"]["guide/frac_replaced"][-1] == 0.0


# ---------------------------------------------------------------------------------------------------
# 4. ADORA and ETR through the trainer
# ---------------------------------------------------------------------------------------------------


def test_adora_difficulty_amplify(model_dir, tmp_path):
    # group a: 1 of 4 correct (p = 0.25 <= tau, amplified); group b: 3 of 4 (p = 0.75)
    reward = rewarder(lambda pid, hinted, i: (i % 4 == 0) if pid == "a" else (i % 4 != 0))
    adora = {"name": "adora", "mode": "difficulty-amplify", "amplify": 2.0, "tau": 0.5}
    trainer = make_trainer(model_dir, tmp_path, reward, advantage=adora)
    out = generate(trainer, batch("a", "b"))
    rewards = torch.tensor(reward.calls[0]["rewards"])
    mask = out["completion_mask"]
    eos = torch.isin(out["completion_ids"], torch.tensor(trainer.eos_token_ids)) & mask.bool()
    expected, _ = adora_advantages(
        rewards,
        G,
        correct=rewards >= 0.5,
        lengths=mask.sum(1),
        truncated=~eos.any(1),
        mode="difficulty-amplify",
    )
    grpo, _ = core.grpo_advantages(rewards, G)
    assert torch.allclose(out["advantages"], expected, atol=1e-6)
    assert torch.allclose(out["advantages"], torch.cat([2 * grpo[:4], grpo[4:]]), atol=1e-6)
    assert trainer._metrics["train"]["adora/frac_up"][-1] == 0.5


@pytest.mark.parametrize("sampler", ["kv", "hf"])
def test_rollouts_use_the_kv_sampler_only_where_it_applies(model_dir, tmp_path, monkeypatch, sampler):
    calls = []
    inner = sampling.generate
    monkeypatch.setattr(sampling, "generate", lambda *a, **k: calls.append(a[3]) or inner(*a, **k))
    trainer = make_trainer(model_dir, tmp_path, rewarder(lambda pid, hinted, i: i % 2), sampler=sampler)
    out = generate(trainer, batch("a", "b"))
    assert out["completion_ids"].size(0) == 2 * G
    assert calls == ([G] if sampler == "kv" else [])  # one call, G samples per prompt
    tokens = trainer.processing_class([row("a")["prompt"], row("b")["prompt"]])["input_ids"]
    grouped = [ids for ids in tokens for _ in range(G)]
    assert trainer._kv_sampler_applies(grouped, {}, G) == (sampler == "kv")
    assert not trainer._kv_sampler_applies(grouped[1:] + grouped[:1], {}, G)  # not whole groups in a row


def test_etr_clip_range_per_row(model_dir, tmp_path):
    # three groups with different spreads: 1/4, 2/4 correct, all correct (A = 0)
    reward = rewarder(lambda pid, hinted, i: {"a": i % 4 == 0, "b": i % 2 == 0, "c": True}[pid])
    etr = {"name": "etr", "eps_low": 0.2, "eps_high": 0.28}
    trainer = make_trainer(model_dir, tmp_path, reward, n_groups=3, clip=etr)
    assert (trainer.epsilon_low, trainer.epsilon_high) == (0.2, 0.28)
    out = generate(trainer, batch("a", "b", "c"))
    rewards = torch.tensor(reward.calls[0]["rewards"])
    low, high, _ = etr_clip_range(out["advantages"], core.group_std(rewards, G), eps_low=0.2, eps_high=0.28)
    assert torch.allclose(out["eps_high_i"], high, atol=1e-7)
    assert torch.allclose(out["eps_low_i"], low, atol=1e-7)
    assert out["eps_high_i"][:8].std() > 0.01  # genuinely per row
    assert torch.allclose(out["eps_high_i"][8:], torch.full((4,), 0.28))  # A = 0 rows: f = 1
    # batch mean of eps_high over rows with A != 0 is eps_high (normalisation)
    assert out["eps_high_i"][:8].mean().item() == pytest.approx(0.28, abs=1e-6)
    # and the loss clips each row at its own range
    cur = current_logps(trainer, out)
    old = cur + 0.3 * torch.randn(cur.shape, generator=torch.Generator().manual_seed(2))
    off = {**out, "old_per_token_logps": old}
    assert trainer._compute_loss(trainer.model, off).item() == pytest.approx(
        hand_loss(off, cur, old), abs=1e-5
    )


def test_stack_guide_filter_adora_etr_compose(model_dir, tmp_path):
    """config `stack`: the estimators and the filter see the rewards after the hinted replacement."""
    stack = {
        "advantage": {"name": "adora", "mode": "difficulty-amplify", "tau": 0.5, "amplify": 2.0, "lam": 0.1},
        "clip": {"name": "etr", "eps_low": 0.2, "eps_high": 0.2, "kappa": 1.0, "s_min": 0.5, "s_max": 2.0},
        "filter_groups": True,
        "guide": {**GUIDE, "shaping_kwargs": {"q": 0.9, "floor": 0.0001}},
    }

    def table(pid, hinted, i):  # plain: a, b fail, c 3/4; hinted: a 2/4, b fails
        return (pid == "a" and i % 2 == 0) if hinted else (pid == "c" and i % 4 != 0)

    trainer = make_trainer(model_dir, tmp_path, rewarder(table), n_groups=3, **stack)
    out = generate(trainer, batch("a", "b", "c"))
    rewards = torch.tensor([1.0, 0, 1, 0] + [0.0] * 4 + [0.0, 1, 1, 1])  # a hinted, b failed, c plain
    assert out["hinted"].tolist() == [True] * 4 + [False] * 8
    assert out["keep"].tolist() == [1.0] * 4 + [0.0] * 4 + [1.0] * 4
    mask = out["completion_mask"]
    assert out["num_items_in_batch"].item() == mask[:4].sum().item() + mask[8:].sum().item()
    # ADORA on the merged rewards: a (p = 1/2 <= tau) amplified x2, c (p = 3/4) not, b has A = 0
    grpo, _ = core.grpo_advantages(rewards, G)
    assert torch.allclose(out["advantages"], torch.cat([2 * grpo[:4], grpo[4:]]), atol=1e-6)
    adv = out["advantages"]
    _, high, _ = etr_clip_range(adv, core.group_std(rewards, G), eps_low=0.2, eps_high=0.2)
    assert torch.allclose(out["eps_high_i"], high, atol=1e-7)
    cur = current_logps(trainer, out)
    old = torch.where(torch.isnan(out["old_per_token_logps"]), cur, out["old_per_token_logps"])
    assert trainer._compute_loss(trainer.model, out).item() == pytest.approx(
        hand_loss(out, cur, old), abs=1e-5
    )


# ---------------------------------------------------------------------------------------------------
# 5. Determinism and resume through rl.train_rl
# ---------------------------------------------------------------------------------------------------


def digit_parity_reward(prompts, completions, **kwargs):
    """Deterministic in the completion and mixed on a random model's output."""
    return [float(sum(ch in "aeiou0123456789" for ch in c) % 2) for c in completions]


@pytest.fixture
def rl_run(model_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(train, "make_reward", lambda format_check=False: digit_parity_reward)
    data = tmp_path / "rl.jsonl"
    records = [
        {
            "id": f"p{i}",
            "prompt": make_prompt(f"{i}+{i + 1}"),
            "answer": str(2 * i + 1),
            "solution": f"{i}+{i + 1}={2 * i + 1}\n#### {2 * i + 1}",
            "hint": f"add {i} and {i + 1}",
            "difficulty": 1,
            "split": "rl",
        }
        for i in range(16)
    ]
    write_jsonl(data, records)

    def run(name, steps, save_steps=2, seed=0, callbacks=None, **overrides):
        spec = {**SPEC, "steps": steps, "save_steps": save_steps, **overrides}
        work = tmp_path / name
        metrics = tmp_path / f"{name}.metrics.jsonl"
        train.train_rl(
            model_dir, data, tmp_path / f"{name}.model", spec, seed, 1, work, metrics, {"run": name},
            callbacks=callbacks,
        )  # fmt: skip
        return [json.loads(line) for line in metrics.read_text().splitlines()]

    run.model_dir = model_dir
    return run


def numbers(row):
    """Every logged value except wall times and the run's name."""
    return {k: v for k, v in row.items() if not k.startswith(("time/", "step_time", "run"))}


def test_train_rl_deterministic_and_resumes_exactly(rl_run):
    full = rl_run("full", steps=4)
    again = rl_run("again", steps=4)
    assert [r["step"] for r in full] == [1, 2, 3, 4]
    assert {"loss", "reward", "entropy", "grad_norm", "clip_frac", "completion_length"} <= set(full[0])
    for a, b in zip(full, again, strict=True):
        assert numbers(a) == numbers(b)
    for r in full:  # one step_time entry per step: the StepTimer's whole step, split into its parts
        assert r["step_time"] == pytest.approx(
            r["time/generate"] + r["time/score"] + r["time/backward"], rel=1e-9
        )
    assert any(abs(r["loss"]) > 1e-6 for r in full)  # the run actually learns something
    assert 0 < sum(r["reward"] for r in full) < 4

    first = rl_run("split", steps=2)
    resumed = rl_run("split", steps=4)  # same work dir: resumes from checkpoint-2
    assert [r["step"] for r in first] == [1, 2]
    assert [r["step"] for r in resumed] == [1, 2, 3, 4]
    for a, b in zip(full, resumed, strict=True):
        assert numbers(a) == numbers(b), a["step"]


class Killed(Exception):
    pass


class KillAfterSave(TrainerCallback):
    """Stands in for SIGKILL right after the checkpoint of optimizer step `step` is on disk."""

    def __init__(self, step):
        self.step = step

    def on_save(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise Killed(self.step)


def half_constant_reward(prompts, completions, id, **kwargs):  # noqa: A002
    """Even problems all correct (uninformative groups), odd ones the digit parity (mostly mixed), so
    dynamic sampling needs refill rounds and carries groups over."""
    parity = digit_parity_reward(prompts, completions)
    return [1.0 if int(pid[1:]) % 2 == 0 else p for pid, p in zip(id, parity, strict=True)]


def weights(path):
    return load_model(str(path)).state_dict()


@pytest.mark.parametrize("kill_at", [4, 2], ids=["after-final-checkpoint", "after-middle-checkpoint"])
def test_killed_run_resumes_to_the_same_weights_and_metrics(rl_run, tmp_path, monkeypatch, kill_at):
    """A run killed after a checkpoint and started again does exactly the remaining steps: with refill
    (its carry-over buffer travels in the checkpoint) the weights and every metric equal the
    uninterrupted run's."""
    monkeypatch.setattr(train, "make_reward", lambda format_check=False: half_constant_reward)
    refill = {"filter_groups": True, "refill": {"enabled": True, "max_rounds": 3, "carry_over": True}}
    seed = 2  # a seed whose rollouts put a carried-over group to use in step 4 (asserted below)
    full = rl_run("full", steps=4, seed=seed, **refill)
    assert [r["step"] for r in full] == [1, 2, 3, 4]
    assert any(r["grad_norm"] > 0 for r in full) and any(r["refill/rounds"] > 1 for r in full)
    assert any(r["refill/from_buffer"] > 0 for r in full[kill_at:] or full)  # the buffer matters
    with pytest.raises(Killed):
        rl_run("killed", steps=4, seed=seed, callbacks=[KillAfterSave(kill_at)], **refill)
    assert not (tmp_path / "killed.model").exists()
    resumed = rl_run("killed", steps=4, seed=seed, **refill)
    assert [r["step"] for r in resumed] == [1, 2, 3, 4]
    for a, b in zip(full, resumed, strict=True):
        assert numbers(a) == numbers(b), a["step"]
    w_full, w_resumed = weights(tmp_path / "full.model"), weights(tmp_path / "killed.model")
    assert all(torch.equal(w_full[k], w_resumed[k]) for k in w_full)
    assert not all(torch.equal(w_full[k], v) for k, v in weights(rl_run.model_dir).items() if k in w_full)


def test_vllm_importance_sampling_is_off_unless_asked(tmp_path):
    # TRL's default is True; the project sets it from the spec, default False (docs/METHODS.md §6)
    assert GRPOConfig(output_dir=str(tmp_path), use_cpu=True, bf16=False).vllm_importance_sampling_correction
    assert grpo_config(SPEC, tmp_path, seed=0).vllm_importance_sampling_correction is False
    on = grpo_config({**SPEC, "vllm_importance_sampling_correction": True}, tmp_path, seed=0)
    assert on.vllm_importance_sampling_correction is True


def test_methods_on_one_seed_draw_their_rollouts_from_one_stream(model_dir, tmp_path):
    """Common random numbers: a GRPO and an ADORA trainer of seed 0 sample identical step-0 rollouts
    whatever the global RNG says; the next generation call of the step draws fresh uniforms."""
    reward = rewarder(lambda pid, hinted, i: i % 2)
    adora = {"name": "adora", "mode": "difficulty-amplify", "tau": 0.5, "amplify": 2.0, "lam": 0.1}
    a = make_trainer(model_dir, tmp_path / "a", reward)
    b = make_trainer(model_dir, tmp_path / "b", reward, advantage=adora)
    first = generate(a, batch("a", "b"), seed=1)["completion_ids"]
    assert torch.equal(first, generate(b, batch("a", "b"), seed=2)["completion_ids"])
    again = generate(a, batch("a", "b"), seed=1)["completion_ids"]  # second call in step 0
    assert not torch.equal(first, again)


@pytest.mark.parametrize("loss", ["token-mean", "seq-mean", "dr-grpo"])
def test_trimmed_micro_batch_gradients_equal_the_padded_computation(model_dir, tmp_path, loss):
    """Issue 23: dropping the all-padding completion columns leaves the gradients unchanged."""
    trainer = make_trainer(model_dir, tmp_path, rewarder(mixed), loss=loss)
    out = generate(trainer, batch("a", "b"))
    extra = 7  # padding columns beyond every row's completion, as TRL's batch-wide padding leaves
    rows = out["completion_ids"].size(0)
    padded = {**out}
    padded["completion_ids"] = torch.cat(
        [out["completion_ids"], out["completion_ids"].new_full((rows, extra), trainer.pad_token_id)], 1
    )
    padded["completion_mask"] = torch.cat(
        [out["completion_mask"], out["completion_mask"].new_zeros((rows, extra))], 1
    )

    def grads(inputs, trim):
        trainer.model.zero_grad()
        if not trim:
            trainer._trim_padding = lambda x: x
        trainer._compute_loss(trainer.model, inputs).backward()
        trainer.__dict__.pop("_trim_padding", None)
        return [p.grad.clone() for p in trainer.model.parameters() if p.grad is not None]

    assert trainer._trim_padding(padded)["completion_ids"].size(1) <= out["completion_ids"].size(1)
    trimmed, full = grads(padded, True), grads(padded, False)
    assert trimmed and len(trimmed) == len(full)
    for a, b in zip(trimmed, full, strict=True):
        assert torch.allclose(a, b, atol=1e-6, rtol=1e-5)


def update_grads(trainer, rows, sort: bool):
    """Summed gradients of one optimizer update's micro-batches, as the HF loop accumulates them."""
    if not sort:
        trainer._sort_updates_by_length = lambda b, updates: b
    trainer.model.zero_grad()
    trainer._buffered_inputs, trainer._generation_calls, micro = None, [-1, 0], []
    torch.manual_seed(0)  # the same rollouts and TRL shuffle on both sides
    for step in range(trainer.args.gradient_accumulation_steps):
        trainer._step = step
        inputs = trainer._prepare_inputs(rows)
        micro.append(trainer._trim_padding(inputs)["completion_mask"].size(1))
        trainer._compute_loss(trainer.model, inputs).backward()
    trainer.__dict__.pop("_sort_updates_by_length", None)
    return [p.grad.clone() for p in trainer.model.parameters() if p.grad is not None], micro


@pytest.mark.parametrize("loss", ["token-mean", "seq-mean", "dr-grpo"])
def test_length_sorted_micro_batches_leave_the_update_gradient_unchanged(model_dir, tmp_path, loss):
    """Issue 23: sorting an update's rows by completion length before the micro-batch split changes
    only the order of summed micro-batch gradients (and lets each micro-batch be trimmed)."""
    trainer = make_trainer(model_dir, tmp_path, rewarder(mixed), n_groups=3, loss=loss,
                           gradient_accumulation_steps=3)  # fmt: skip
    trainer.current_gradient_accumulation_steps = 3
    sample_round = trainer.sample_round

    def ragged(rows):  # completions of many lengths (the random tiny model rarely stops early)
        out = sample_round(rows)
        ends = torch.tensor([(7 * i) % out["completion_mask"].size(1) + 1 for i in range(len(rows))])
        out["completion_mask"] = out["completion_mask"] * (
            torch.arange(out["completion_mask"].size(1)) < ends[:, None]
        )
        return out

    trainer.sample_round = ragged
    rows = batch("a", "b", "c")
    (sorted_, widths), (plain, plain_widths) = (
        update_grads(trainer, rows, True),
        update_grads(trainer, rows, False),
    )
    assert widths == sorted(widths) and sum(widths) < sum(plain_widths)  # buckets: less padding
    assert sorted_ and len(sorted_) == len(plain)
    for a, b in zip(sorted_, plain, strict=True):
        assert torch.allclose(a, b, atol=1e-6, rtol=1e-5)
    again, _ = update_grads(trainer, rows, True)
    assert all(torch.equal(a, b) for a, b in zip(sorted_, again, strict=True))  # deterministic


def test_length_sort_keeps_each_update_its_rows():
    """With two updates per rollout batch, rows never move between updates (TRL's shuffle decides)."""
    lengths = torch.tensor([[1] * n + [0] * (5 - n) for n in (5, 1, 3, 2, 4, 1, 5, 2)])
    out = RLVRTrainer._sort_updates_by_length({"completion_mask": lengths, "id": list("abcdefgh"),
                                               "n": torch.tensor(8)}, updates=2)  # fmt: skip
    assert out["id"] == ["b", "d", "c", "a", "f", "h", "e", "g"]
    assert out["completion_mask"].sum(1).tolist() == [1, 2, 3, 5, 1, 2, 4, 5]
    assert out["n"].item() == 8


def test_grader_timeouts_are_logged_per_scoring_round(model_dir, tmp_path):
    from rlvr_repro import reward

    def timing_out(prompts, completions, **kwargs):  # stands in for a grader whose calls overran
        reward.TIMEOUTS["count"] += 2
        return [0.0] * len(completions)

    trainer = make_trainer(model_dir, tmp_path, timing_out)
    generate(trainer, batch("a", "b"))
    assert trainer._metrics["train"]["grader_timeouts"] == [2.0]
