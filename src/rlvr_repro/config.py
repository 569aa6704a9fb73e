"""Experiment config: schema validation and the per-run specs the rules pass to the CLI.

A method block is a partial RL spec merged over the `rl:` defaults, so a new method is a config
block (plus, for new math, one registered function in the trainer's registries).

Validation runs when Snakemake builds the DAG and imports neither torch nor TRL: the GRPOConfig
fields that `rl:` passes straight through and the registry names are static lists here
(`grpo_fields.py`) that a test compares with TRL; registry names come from the rl package.
"""

from __future__ import annotations

import copy
import difflib
import functools
from pathlib import Path

import jsonschema
import yaml

from .grpo_fields import GRPO_CONFIG_FIELDS

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"

# GRPOConfig fields `rl.grpo_config` derives from the project's own keys: setting them in `rl:` would be
# refused inside the RL job, so validation refuses them and names the key to use instead.
PROJECT_SET_GRPO_FIELDS = {
    "output_dir": "(the run directory; set by the workflow)",
    "max_steps": "steps",
    "steps_per_generation": "prompts_per_step / prompts_per_update",
    "lr_scheduler_type": "lr_scheduler",
    "epsilon": "clip.eps_low",
    "epsilon_high": "clip.eps_high",
    "loss_type": "loss",
    "scale_rewards": "advantage.scale",
    "logging_steps": "(every step is logged)",
    "save_total_limit": "(one checkpoint is kept)",
    "report_to": "(TensorBoard and metrics.jsonl)",
    "seed": "seeds (top level)",
    "data_seed": "seeds (top level)",
    "dataloader_num_workers": "(0: the data is in memory)",
    "log_completions": "(off)",
}

# Registry names and the keyword arguments of each registered function are read from the rl package
# itself when the DAG is built (it imports torch, about two seconds once), so a new paper's file needs no
# edit here. Rollout hooks and loss transforms are not named in a config: each applies itself when its
# flag is set (`filter_groups`, `guide.enabled`, `overlong.enabled`).
KWARG_KINDS = ("advantage", "clip", "shaping")
TRAINER_SUPPLIED = {"correct", "lengths", "truncated"}
REGISTRY_KEYS = {
    "advantage": ("advantage", "name"),
    "clip": ("clip", "name"),
    "shaping": ("guide", "shaping"),
    "aggregation": ("loss",),
    "kl": ("kl",),
}


class ConfigError(ValueError):
    pass


@functools.cache
def live_registry_names() -> dict[str, list[str]]:
    """The names registered in the trainer's code (imports torch)."""
    from .rl.core import registry_names  # the one line to change if the registries move again

    return registry_names()


@functools.cache
def live_registry_kwargs() -> dict[str, dict[str, list[str]]]:
    """Keyword arguments a config may give each registered function: its keyword-only parameters, less
    the ones the trainer supplies (a typo such as `tua` would otherwise stop the RL job)."""
    import inspect

    from .rl.core import registries

    def knobs(fn) -> list[str]:
        params = inspect.signature(fn).parameters.values()
        return [p.name for p in params if p.kind == p.KEYWORD_ONLY and p.name not in TRAINER_SUPPLIED]

    live = registries()
    return {kind: {name: knobs(fn) for name, fn in sorted(live[kind].items())} for kind in KWARG_KINDS}


def merge(base: dict, override: dict) -> dict:
    """Recursive dict merge; `override` wins, nested dicts merge key by key."""
    out = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


# --------------------------------------------------------------------------------------------------
# schema
# --------------------------------------------------------------------------------------------------
def _type_schema(json_types: list[str]) -> dict:
    return {"type": json_types} if json_types else {}


@functools.lru_cache(maxsize=4)
def _load_schema(schema_path: str) -> dict:
    schema = yaml.safe_load(Path(schema_path).read_text())
    rl = schema["properties"]["rl"]
    passthrough = {
        name: {**_type_schema(types), "description": "TRL GRPOConfig field, passed through"}
        for name, types in GRPO_CONFIG_FIELDS.items()
        if name not in rl["properties"] and name not in PROJECT_SET_GRPO_FIELDS
    }
    rl["properties"] = {**rl["properties"], **passthrough}
    method = schema["definitions"]["method"]
    method["properties"] = {**rl["properties"], **method.get("properties", {})}
    return schema


def load_schema(schema_path: Path = SCHEMA) -> dict:
    """The config schema with what the YAML file cannot say itself: `rl:` also takes every TRL GRPOConfig
    field the project does not set, and a method block takes every `rl:` key."""
    return copy.deepcopy(_load_schema(str(schema_path)))


def _resolve(schema: dict, root: dict) -> dict:
    while isinstance(schema, dict) and "$ref" in schema:
        node = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema if isinstance(schema, dict) else {}


def _child(schema: dict, key, root: dict) -> dict:
    schema = _resolve(schema, root)
    if isinstance(key, int):
        return _resolve(schema.get("items", {}), root)
    if key in schema.get("properties", {}):
        return _resolve(schema["properties"][key], root)
    extra = schema.get("additionalProperties")
    return _resolve(extra, root) if isinstance(extra, dict) else {}


def _types(schema: dict) -> set[str]:
    declared = schema.get("type", [])
    types = {declared} if isinstance(declared, str) else set(declared)
    types |= {_json_type(v) for v in schema.get("enum", [])}
    if "const" in schema:
        types.add(_json_type(schema["const"]))
    return types


def _json_type(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), "other")


def _coerced(value: str, schema: dict):
    """`value` as the number, boolean or null it spells, where the schema does not take it as a string.

    Numbers go through int()/float(), as YAML 1.1 reads '1e-4' as a string."""
    types = _types(schema)
    if not types or "string" in types:
        return value
    for kind, parse in (("integer", int), ("number", float)):
        if kind in types:
            try:
                return parse(value)
            except ValueError:
                pass
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        return value
    return parsed if _json_type(parsed) in types else value


def coerce_strings(config: dict, schema_path: Path = SCHEMA) -> dict:
    """Turn the strings Snakemake's `--config` makes of nested values (`rl={steps: 3}` gives '3') into
    the numbers, booleans or nulls the schema asks for, in place; returns `config`."""
    schema = load_schema(schema_path)

    def walk(node, sub):
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in list(items):
            child = _child(sub, key, schema)
            if isinstance(value, str):
                node[key] = _coerced(value, child)
            elif isinstance(value, dict | list):
                walk(value, child)

    walk(config, schema)
    return config


# --------------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------------
def suggest(word: str, choices) -> str:
    """'; did you mean 'x'?' for the nearest valid names, or ''."""
    near = difflib.get_close_matches(str(word), [str(c) for c in choices], n=3, cutoff=0.6)
    return f"; did you mean {' or '.join(repr(n) for n in near)}?" if near else ""


def _error_lines(error: jsonschema.ValidationError) -> list[str]:
    where = ".".join(map(str, error.path)) or "<top level>"
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        valid = error.schema.get("properties", {})
        lines = []
        for key in sorted(k for k in error.instance if k not in valid):
            if key in PROJECT_SET_GRPO_FIELDS and "steps" in valid:
                lines.append(f"{where}: {key!r} is set by the project; use {PROJECT_SET_GRPO_FIELDS[key]}")
            else:
                lines.append(f"{where}: unknown key {key!r}{suggest(key, valid)}")
        return lines
    if error.validator == "enum":
        return [f"{where}: {error.message}{suggest(error.instance, error.validator_value)}"]
    return [f"{where}: {error.message}"]


def _registry_errors(config: dict) -> list[str]:
    """Every registry name a method uses (after merging over `rl:`) must be registered."""
    lines = []
    for method, block in all_methods(config).items():
        if block.get("trainer", "rl") == "sft":
            continue
        spec = rl_spec(config, method)
        for kind, path in REGISTRY_KEYS.items():
            node, found = spec, True
            for part in path:
                if not isinstance(node, dict) or part not in node:
                    found = False
                    break
                node = node[part]
            if found and node not in live_registry_names()[kind]:
                owner = f"methods.{method}" if _has_path(block, path) else "rl"
                valid = live_registry_names()[kind]
                lines.append(
                    f"{owner}.{'.'.join(path)}: unknown {kind} {node!r} in method {method} "
                    f"(registered: {', '.join(valid)}){suggest(node, valid)}"
                )
        lines += _kwarg_errors(method, block, spec)
    return sorted(set(lines))


def _kwarg_errors(method: str, block: dict, spec: dict) -> list[str]:
    """Keyword arguments the named functions do not take (`advantage: {name: adora, tua: 0.5}`)."""
    guide = spec.get("guide") or {}
    given = {
        ("advantage",): ("advantage", spec["advantage"].get("name"), set(spec["advantage"]) - {"name"}),
        ("clip",): ("clip", spec["clip"].get("name"), set(spec["clip"]) - {"name"}),
        ("guide", "shaping_kwargs"): ("shaping", guide.get("shaping", "percentile"), set(guide.get("shaping_kwargs") or {})),
    }  # fmt: skip
    lines = []
    for path, (kind, name, keys) in given.items():
        valid = live_registry_kwargs()[kind].get(name)
        if valid is None:
            continue  # an unknown name, reported on its own
        for key in sorted(keys - set(valid)):
            owner = f"methods.{method}" if _has_path(block, (*path, key)) else "rl"
            lines.append(
                f"{owner}.{'.'.join(path)}: {kind} {name!r} takes no {key!r} (method {method}; it takes: "
                f"{', '.join(valid) or 'nothing'}){suggest(key, valid)}"
            )
    return lines


def _has_path(block: dict, path: tuple) -> bool:
    for part in path:
        if not isinstance(block, dict) or part not in block:
            return False
        block = block[part]
    return True


def validate(config: dict, schema_path: Path = SCHEMA, source: str = "config") -> None:
    """Raise ConfigError naming each offending key path (e.g. `rl.num_generations`), with the nearest
    valid key or registry name where one is close."""
    schema = load_schema(schema_path)
    errors = sorted(
        jsonschema.Draft7Validator(schema).iter_errors(config), key=lambda e: list(map(str, e.path))
    )
    lines = [line for e in errors for line in _error_lines(e)]
    if not lines:
        lines = _registry_errors(config)
    if lines:
        raise ConfigError(f"{source} does not match {Path(schema_path).name}:\n  " + "\n  ".join(lines))
    for kind, job in config.get("resources", {}).items():
        if job.get("nodes", 1) > 1 and job.get("gpu", 0) < 2:
            raise ConfigError(f"{source}: resources.{kind}: a multi-node job needs gpu (per node) >= 2, got "
                              f"{job.get('gpu', 0)} (SLURM runs one task per GPU slot and one launcher per node)")  # fmt: skip


def load(path: Path) -> dict:
    config = yaml.safe_load(Path(path).read_text())
    validate(config, source=str(path))
    return config


# --------------------------------------------------------------------------------------------------
# per-run specs
# --------------------------------------------------------------------------------------------------
def all_methods(config: dict) -> dict[str, dict]:
    return {**config["methods"], **config.get("ablations", {}).get("methods", {})}


def is_sft_method(config: dict, method: str) -> bool:
    return all_methods(config)[method].get("trainer", "rl") == "sft"


def rl_spec(config: dict, method: str) -> dict:
    """The RL spec of one method: `rl:` defaults with the method block merged on top."""
    return merge(config["rl"], {k: v for k, v in all_methods(config)[method].items() if k != "label"})


def method_labels(config: dict) -> dict[str, str]:
    """Display label of every method block (`label:`, else its name), and of the SFT start."""
    return {"sft": "SFT start"} | {
        name: block.get("label", name) for name, block in all_methods(config).items()
    }


def sft_continue_spec(config: dict, method: str) -> dict:
    """SFT-continue control: the RL run's optimizer updates, each on as many sequences as one RL update."""
    rl = rl_spec(config, method)
    per_update = rl.get("prompts_per_update", rl["prompts_per_step"])
    updates = rl["steps"] * (rl["prompts_per_step"] // per_update) * rl.get("num_iterations", 1)
    return merge(config["sft"], {"steps": updates, "batch_size": per_update * rl["num_generations"],
                                 "save_steps": rl["save_steps"], "data": rl.get("data", "sft")})  # fmt: skip


def selected(config: dict) -> tuple[list[str], list[str]]:
    """Methods and ablations this experiment runs: `run:` lists them (default: every block).

    Experiment files are merged over config.yaml, which cannot delete blocks, so a smaller
    experiment selects instead.
    """
    run = config.get("run", {})
    methods = run.get("methods", list(config["methods"]))
    ablations = run.get("ablations", list(config.get("ablations", {}).get("methods", {})))
    known = all_methods(config)
    for name in methods + ablations:
        if name not in known:
            raise ConfigError(f"run: unknown method {name!r}{suggest(name, known)}; defined: {sorted(known)}")
    return methods, ablations


def eval_spec(config: dict, method: str) -> dict:
    """Evaluation spec of one run: the SFT start is sampled `start_n` times (pass@16 before RL)."""
    spec = {k: v for k, v in config["eval"].items() if k != "start_n"}
    if method == "sft":
        spec["n"] = config["eval"].get("start_n", spec["n"])
    return spec


def runs(config: dict) -> list[tuple[str, str, int]]:
    """(size, method, seed) for every training run of the experiment."""
    methods, ablations = selected(config)
    out = [(size, m, seed) for size in config["sizes"] for m in methods for seed in config["seeds"]]
    out += [(config["ablations"]["size"], m, seed) for m in ablations for seed in config["seeds"]]
    return out
