"""Turn the shipped SmolLM2 GGUF into a Hugging Face model folder that vLLM and
`transformers serve` can load:

    python -m workers.generation.convert OUT_DIR [--model smollm2-135m-instruct]
        [--dtype bfloat16|float32|float16] [--force]

Prints the folder on stdout. Safe to rerun: a complete folder (its marker file is
written last) is reported as it is, unless --force."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from workers.generation.base import GenerationError
from workers.generation.models import DEFAULT_MODEL, resolve_model

DTYPES = ("bfloat16", "float32", "float16")
MARKER = "assay-converted.json"  # written last: its presence means the folder is complete


class ConvertError(Exception):
    """A conversion that cannot be done; the message says why."""


def convert(
    out_dir: Path, *, model: str = DEFAULT_MODEL, dtype: str = "bfloat16", force: bool = False
) -> Path:
    """Write the Hugging Face folder of a GGUF model into out_dir and return out_dir."""
    if dtype not in DTYPES:
        raise ConvertError(f"dtype must be one of {', '.join(DTYPES)}, not {dtype!r}")
    marker = out_dir / MARKER
    wanted = {"model": model, "dtype": dtype}
    if marker.is_file() and not force:
        made = json.loads(marker.read_text())
        if {k: made.get(k) for k in wanted} != wanted:
            raise ConvertError(
                f"{out_dir} already holds {made.get('model')!r} in {made.get('dtype')}: "
                "pass --force to rebuild it"
            )
        return out_dir
    try:
        files = resolve_model(model)
    except GenerationError as e:
        raise ConvertError(str(e)) from e
    if not files.gguf_file:
        raise ConvertError(f"{model!r} is already a Hugging Face model folder: {files.folder}")

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = {"gguf_file": files.gguf_file}
    tokenizer = AutoTokenizer.from_pretrained(files.folder, **gguf)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token  # batched servers pad; SmolLM2's GGUF names none
    # GGUF weights are dequantized on load; saving that model directly would keep its GGUF
    # quantization config (and loaders would look for a GGUF file), so the weights move
    # into a plain model built from the cleaned config.
    loaded = AutoModelForCausalLM.from_pretrained(files.folder, dtype=torch.float32, **gguf)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=getattr(torch, dtype))
    plain.load_state_dict(loaded.state_dict())
    plain.generation_config = loaded.generation_config
    out_dir.mkdir(parents=True, exist_ok=True)
    marker.unlink(missing_ok=True)  # --force over a complete folder: incomplete until the end
    plain.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    marker.write_text(json.dumps({**wanted, "source": str(Path(files.folder) / files.gguf_file)}, indent=2))
    return out_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m workers.generation.convert",
        description="Convert a GGUF model (the shipped SmolLM2 by default) into a Hugging Face model "
        "folder for vLLM or transformers serve.",
    )
    parser.add_argument("out_dir", type=Path, help="the model folder to write")
    parser.add_argument(
        "--model", default=DEFAULT_MODEL, help=f"a model alias or .gguf file (default {DEFAULT_MODEL})"
    )
    parser.add_argument(
        "--dtype", choices=DTYPES, default="bfloat16", help="weights dtype (default bfloat16)"
    )
    parser.add_argument("--force", action="store_true", help="rebuild a folder that is already complete")
    args = parser.parse_args(argv)
    try:
        folder = convert(args.out_dir, model=args.model, dtype=args.dtype, force=args.force)
    except ConvertError as e:
        print(f"convert: {_one_line(str(e))}", file=sys.stderr)
        return 1
    except Exception as e:  # a CLI: one readable line, not a traceback
        print(f"convert: {type(e).__name__}: {_one_line(str(e))}", file=sys.stderr)
        return 1
    print(folder.resolve())
    return 0


def _one_line(text: str) -> str:
    return " ".join(text.split())


if __name__ == "__main__":
    sys.exit(main())
