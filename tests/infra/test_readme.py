"""The README's commands run as printed: every `manage.py` line of its shell blocks calls
the venv's Python (a new user has no venv on PATH), names a command that exists, and
gives only options that command takes."""

from __future__ import annotations

import re
import shlex
import textwrap
from pathlib import Path

import pytest
from django.core.management import get_commands, load_command_class

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _shell_lines() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", README, re.S)
    lines, pending = [], ""
    for block in blocks:
        for raw in block.splitlines():
            line = pending + raw.split("  #")[0].strip()
            if line.endswith("\\"):
                pending = line[:-1] + " "
                continue
            pending = ""
            if "manage.py" in line:
                lines.append(line)
    return lines


LINES = _shell_lines()


def test_the_readme_shows_manage_py_commands():
    assert len(LINES) >= 10


@pytest.mark.parametrize("line", LINES)
def test_each_readme_command_runs_as_printed(line):
    inner = re.search(r"\$\((.*?)\|", line)  # TOKEN=$(... | tail -n 1)
    words = shlex.split(inner.group(1) if inner else line)
    i = words.index("manage.py")
    if words[:3] != ["docker", "compose", "exec"]:
        assert words[i - 1] == ".venv/bin/python", f"not runnable as printed without a venv on PATH: {line}"
    name, args = words[i + 1], words[i + 2 :]
    assert name in get_commands(), f"no command {name!r}: {line}"
    command = load_command_class(get_commands()[name], name)
    known = {o for a in command.create_parser("manage.py", name)._actions for o in a.option_strings}
    given = {a.split("=")[0] for a in args if a.startswith("--")}
    assert given <= known, f"{name} does not take {sorted(given - known)}: {line}"


def test_the_readme_campaign_config_is_valid():
    from curation.campaigns.config import load_yaml

    configs = [b for b in re.findall(r"```yaml\n(.*?)```", README, re.S) if b.startswith("slug:")]
    assert configs
    for text in configs:
        load_yaml(text, origin="README")  # raises with the field on a bad example


def test_the_readme_openai_generator_is_valid():
    import yaml

    from curation.campaigns.config import GeneratorConfig

    blocks = re.findall(r"```yaml\n(.*?)```", README, re.S)
    block = next(b for b in blocks if textwrap.dedent(b).startswith("generator:") and "backend: openai" in b)
    generator = GeneratorConfig.model_validate(yaml.safe_load(textwrap.dedent(block))["generator"])
    assert generator.api_key_env == "OPENAI_API_KEY" and generator.concurrency == 8


def test_the_readme_critics_settings_are_valid():
    import yaml

    from curation.campaigns.config import parse_config

    block = next(b for b in re.findall(r"```yaml\n(.*?)```", README, re.S) if b.startswith("critics:"))
    config = parse_config({"slug": "x", "source": "faq", "count": 1, **yaml.safe_load(block)})
    assert config.judge.revise and config.judge.generator.base_url and config.learned.order == "uncertain"


def test_the_readme_argilla_section_is_valid():
    import yaml

    from curation.campaigns.config import parse_config

    block = next(b for b in re.findall(r"```yaml\n(.*?)```", README, re.S) if b.startswith("argilla:"))
    config = parse_config({"slug": "x", "source": "faq", "count": 1, **yaml.safe_load(block)})
    assert config.argilla.dataset == "faq-synth"
