"""Snakemake conventions the workflow keeps: benchmarks on heavy rules, local analysis rules, a report."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RULE_FILES = sorted((ROOT / "workflow/rules").glob("*.smk"))
HEAVY = {"sft", "rl", "sft_continue", "evaluate", "task_properties"}
ANALYSIS = {"aggregate", "tables", "figures", "report"}


def rule_bodies() -> dict[str, str]:
    """{rule name: its text up to the next top-level statement}."""
    bodies = {}
    for path in RULE_FILES:
        text = path.read_text()
        for match in re.finditer(r"^rule (\w+):\n((?:[ \t]+.*\n|\n)*)", text, flags=re.M):
            bodies[match.group(1)] = match.group(2)
    return bodies


def local_rules() -> set[str]:
    names = set()
    for path in RULE_FILES:
        for block in re.findall(r"^localrules:\n((?:[ \t]+\w+,?\n)+)", path.read_text(), flags=re.M):
            names |= set(re.findall(r"\w+", block))
    return names


def test_heavy_rules_write_benchmarks():
    bodies = rule_bodies()
    assert HEAVY <= set(bodies)
    for name in HEAVY:
        assert re.search(r"^\s+benchmark:\n\s+f\"\{OUT\}/benchmarks/", bodies[name], flags=re.M), name


def test_analysis_and_hub_rules_are_local():
    assert ANALYSIS | {"data", "build_model", "fetch_model", "provenance"} <= local_rules()
    assert not HEAVY & local_rules()


def test_report_pages_exist():
    snakefile = (ROOT / "Snakefile").read_text()
    assert re.search(r'^report: "workflow/report/workflow.rst"', snakefile, flags=re.M)
    bodies = rule_bodies()
    for rule, caption in (
        ("figures", "figures.rst"),
        ("report", "claims.rst"),
        ("tables", "head_to_head.rst"),
    ):
        assert f'caption="../report/{caption}"' in bodies[rule], rule
        assert (ROOT / "workflow/report" / caption).is_file()
    assert 'subcategory="{group}"' in bodies["figures"]
    assert all((ROOT / name).is_file() for name in ("LICENSE", "CITATION.cff", "config/README.md"))
