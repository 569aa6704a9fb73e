"""`rlvr --help` and every command's help describe each argument; `rlvr --version` names the commit."""

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from rlvr_repro import __version__, cli

OWN_PARSERS = ["aggregate", "figures", "tables"]  # delegated commands whose help is checked here too


def undocumented(parser: argparse.ArgumentParser) -> list[str]:
    return [
        "/".join(a.option_strings) or a.dest
        for a in parser._actions
        if not a.help and not isinstance(a, argparse._SubParsersAction)
    ]


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_every_command_and_argument_has_help():
    top = cli.parser()
    assert not undocumented(top)
    commands = subparsers(top)
    (action,) = [a for a in top._actions if isinstance(a, argparse._SubParsersAction)]
    assert all(choice.help and "see `rlvr" not in choice.help for choice in action._choices_actions)
    for name, sub in commands.items():
        if name not in cli.DELEGATED:
            assert not undocumented(sub), name


@pytest.mark.parametrize("name", OWN_PARSERS)
def test_delegated_commands_document_their_arguments(name):
    import importlib

    module = importlib.import_module(f"rlvr_repro.{cli.DELEGATED[name]}")
    assert not undocumented(module.build_parser()), name


def test_spec_help_says_what_the_json_holds():
    commands = subparsers(cli.parser())
    for name, block in (("rl", "rl_spec"), ("sft", "`sft:`"), ("eval", "eval_spec"), ("data", "`data:`")):
        (spec,) = [a for a in commands[name]._actions if "--spec" in a.option_strings]
        assert "JSON" in spec.help and block in spec.help, name


def test_version_names_package_and_commit():
    out = subprocess.run(
        [sys.executable, "-m", "rlvr_repro.cli", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0
    assert out.stdout.startswith(f"rlvr-repro {__version__}")
    root = Path(__file__).resolve().parents[1]
    commit = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True
    )
    if commit.returncode == 0:  # a git checkout: the commit is named
        assert commit.stdout.strip() in out.stdout
