"""The project keeps its promises: CI runs exactly the README's commands, and the README is current."""
import re, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

def readme_commands():
    "The shell commands in the README's 'Install and test' block."
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Install and test.*?```sh\n(.*?)```", text, re.S)
    assert block, "README.md has no 'Install and test' sh block"
    return [line.strip() for line in block.group(1).splitlines() if line.strip()]

def test_readme_has_two_commands_and_ci_runs_them():
    cmds = readme_commands()
    assert len(cmds) == 2, cmds
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    for cmd in cmds: assert cmd in ci, f".ci/run does not run the README command {cmd!r}"

def test_readme_is_rendered_from_index_notebook():
    res = subprocess.run([sys.executable, str(ROOT / "tools" / "render_readme.py"), "--check"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
