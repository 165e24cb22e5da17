"""The README's two commands: CI must run exactly the README's test command."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def readme_commands():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section)


def test_readme_has_exactly_two_commands():
    cmds = readme_commands()
    assert len(cmds) == 2, cmds
    assert cmds[0].startswith("bash scripts/setup.sh") and cmds[0].endswith("l3roam demo")
    assert cmds[1].startswith("bash scripts/setup.sh")


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    test_cmd = readme_commands()[1]
    assert "pytest" in test_cmd
    runnable = [line.strip() for line in ci.splitlines() if line.strip() and not line.startswith("#")]
    assert test_cmd in runnable
