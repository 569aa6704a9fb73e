"""Update geometry: how one rollout batch becomes optimizer steps (no torch, no TRL: read at DAG time)."""

from __future__ import annotations


def batch_geometry(spec: dict, world_size: int = 1) -> dict:
    """Per-device micro-batch, accumulation and TRL step counts from the project's batch knobs.

    ``prompts_per_step`` prompts (x ``num_generations`` completions) are generated per rollout step
    across all processes (verl's ``train_batch_size``); they are consumed in optimizer updates of
    ``prompts_per_update`` prompts (verl's ``ppo_mini_batch_size``, default: all of them), each
    ``num_iterations`` times. ``per_device_train_batch_size`` (completions per device per micro-step)
    defaults to one update's share of a device; ``steps`` counts rollout steps, so TRL's ``max_steps``
    (optimizer steps) is ``steps x updates per rollout x num_iterations``. ``save_steps`` counts optimizer
    steps and must fall on a rollout boundary, or a resumed run would regenerate a half-used batch.
    """
    G = spec["num_generations"]
    rollout = spec["prompts_per_step"] * G
    update = spec.get("prompts_per_update", spec["prompts_per_step"]) * G
    per_device = spec.get("per_device_train_batch_size")
    if per_device is None:
        per_device = update // (world_size * spec.get("gradient_accumulation_steps", 1))
    problems = []
    if rollout % update:
        problems.append(
            f"prompts_per_step ({spec['prompts_per_step']}) is not a multiple of prompts_per_update"
        )
    if per_device < 1 or update % (per_device * world_size):
        problems.append(
            f"one update ({update} completions) does not split into {world_size} process(es) x "
            f"per_device_train_batch_size {per_device} x whole accumulation steps"
        )
    iterations = spec.get("num_iterations", 1)
    per_rollout = max(rollout // max(update, 1), 1) * iterations
    if spec.get("save_steps", per_rollout) % per_rollout:
        problems.append(
            f"save_steps ({spec['save_steps']}) is not a multiple of the {per_rollout} optimizer steps of one "
            "rollout batch (a checkpoint inside a rollout batch cannot be resumed exactly)"
        )
    if problems:
        raise ValueError("rl batch sizes do not fit: " + "; ".join(problems))
    return {
        "per_device_train_batch_size": per_device,
        "gradient_accumulation_steps": update // (per_device * world_size),
        "steps_per_generation": rollout // (per_device * world_size),
        "max_steps": spec["steps"] * (rollout // update) * iterations,
    }


def clip_dependent_mechanisms(spec: dict) -> list[str]:
    """Mechanisms of an RL spec that act only through the clipped importance ratio (docs/METHODS.md §3, §2).

    ETR (``clip.name != fixed``) and clip-higher (``eps_high != eps_low``) change nothing but the clip
    bounds; Guide's ``ratio_context: plain`` ratio is pi_theta / pi_old on the same plain context. With one
    optimizer update per rollout batch TRL keeps no old log-probs, the ratio is exactly 1 and none of them
    acts. Reading: Guide's default ``hinted`` ratio (old log-probs on the hinted prompt) differs from 1
    even on-policy, so it is not listed.
    """
    clip = spec.get("clip") or {}
    found = []
    if clip.get("name", "fixed") != "fixed":
        found.append(f"clip.name={clip['name']}")
    elif clip.get("eps_high", 0.2) != clip.get("eps_low", 0.2):
        found.append(f"clip-higher (eps_low={clip.get('eps_low')}, eps_high={clip.get('eps_high')})")
    guide = spec.get("guide") or {}
    if guide.get("enabled") and guide.get("ratio_context", "hinted") == "plain":
        found.append("guide.ratio_context=plain")
    return found


def check_clip_acts(method: str, spec: dict) -> None:
    """Refuse a method whose clip-dependent mechanism is a no-op under its update geometry (issue 16, #7)."""
    updates = spec["prompts_per_step"] // spec.get("prompts_per_update", spec["prompts_per_step"])
    updates *= spec.get("num_iterations", 1)
    found = clip_dependent_mechanisms(spec)
    if updates == 1 and found:
        raise ValueError(
            f"method {method!r}: {', '.join(found)} acts only through the clipped ratio, but its update geometry "
            f"(prompts_per_step {spec['prompts_per_step']}, prompts_per_update "
            f"{spec.get('prompts_per_update', spec['prompts_per_step'])}, num_iterations "
            f"{spec.get('num_iterations', 1)}) makes 1 optimizer update per rollout batch, so the ratio is "
            "exactly 1 and the method equals GRPO; set prompts_per_update to half of prompts_per_step "
            "or num_iterations >= 2"
        )


def train_world_size(config: dict) -> int:
    """Processes of one RL job: GPUs per node x nodes (1 on a CPU)."""
    train = config.get("resources", {}).get("train", {})
    return max(train.get("gpu", 0), 1) * train.get("nodes", 1)


def geometry_rows(config: dict) -> list[dict]:
    """One row per RL method of the experiment: the batch arithmetic TRL will run."""
    from ..config import is_sft_method, rl_spec, selected

    world = train_world_size(config)
    methods, ablations = selected(config)
    rows = []
    for method in dict.fromkeys(methods + ablations):
        if is_sft_method(config, method):
            continue
        spec = rl_spec(config, method)
        geo = batch_geometry(spec, world)
        check_clip_acts(method, spec)
        per_rollout = spec["prompts_per_step"] // spec.get("prompts_per_update", spec["prompts_per_step"])
        rows.append({
            "method": method,
            "prompts/step": spec["prompts_per_step"],
            "G": spec["num_generations"],
            "updates/rollout": per_rollout * spec.get("num_iterations", 1),
            "processes": world,
            "micro-batch": geo["per_device_train_batch_size"],
            "accumulation": geo["gradient_accumulation_steps"],
            "optimizer steps": geo["max_steps"],
            "loss": spec.get("loss", "token-mean"),
            "refill": bool(spec.get("filter_groups") and spec.get("refill", {}).get("enabled")),
        })  # fmt: skip
    return rows


def geometry_table(config: dict) -> str:
    """`geometry_rows` as a fixed-width text table (printed when Snakemake builds the DAG)."""
    rows = geometry_rows(config)
    if not rows:
        return ""
    cols = list(rows[0])
    width = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols}
    lines = ["  ".join(c.ljust(width[c]) for c in cols)]
    lines += ["  ".join(str(r[c]).ljust(width[c]) for c in cols) for r in rows]
    return f"RL update geometry ({config['name']}):\n" + "\n".join(lines)
