"""Hugging Face transformers on the CPU (or one GPU): the embedded default backend.

Batched, left-padded sampling; one model per worker process (see registry)."""

from __future__ import annotations

import threading
from typing import ClassVar

from workers.generation.base import Generation, GenerationError, Message, SamplingParams
from workers.generation.models import resolve_model


class TransformersBackend:
    name: ClassVar[str] = "transformers"

    def __init__(self, model: str, *, device: str | None = None) -> None:
        files = resolve_model(model)
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as e:  # pragma: no cover - torch and transformers are core dependencies
            raise GenerationError(f"backend transformers cannot start: {e}", permanent=True) from e
        self.model = model
        self._torch = torch
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = torch.bfloat16 if self.device.startswith("cuda") else torch.float32
        kwargs = {"gguf_file": files.gguf_file} if files.gguf_file else {}
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(files.folder, **kwargs)
            self.lm = AutoModelForCausalLM.from_pretrained(files.folder, dtype=dtype, **kwargs).to(
                self.device
            )
        except (OSError, ValueError) as e:
            raise GenerationError(f"cannot load model {model!r}: {e}", permanent=True) from e
        self.lm.eval()
        self.tokenizer.padding_side = "left"  # decoder-only models continue from the right edge
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        # torch's global RNG is per process: serialize generate calls that seed it.
        self._lock = threading.Lock()

    def _render(self, conversation: list[Message]) -> str:
        if self.tokenizer.chat_template:
            return self.tokenizer.apply_chat_template(
                conversation, tokenize=False, add_generation_prompt=True
            )
        return "\n\n".join(m["content"] for m in conversation) + "\n\n"

    def generate(
        self, conversations: list[list[Message]], params: SamplingParams, seeds: list[int]
    ) -> list[Generation]:
        if not conversations:
            return []
        torch = self._torch
        texts = [self._render(c) for c in conversations]
        enc = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(
            self.device
        )
        sample = params.temperature > 0
        extra = {"temperature": params.temperature, "top_p": params.top_p} if sample else {}
        with self._lock, torch.inference_mode():
            # One seed per call: transformers samples a whole batch from one generator.
            torch.manual_seed(seeds[0])
            out = self.lm.generate(
                **enc,
                do_sample=sample,
                max_new_tokens=params.max_tokens,
                pad_token_id=self.tokenizer.pad_token_id,
                **extra,
            )
        new = out[:, enc["input_ids"].shape[1] :]
        results = []
        eos = self.tokenizer.eos_token_id
        for row in new.tolist():
            n = len(row)
            while n and row[n - 1] == self.tokenizer.pad_token_id:
                n -= 1
            stopped = eos in row[:n] or n < len(row)
            text = self.tokenizer.decode(row[:n], skip_special_tokens=True)
            results.append(Generation(text.strip(), n, "stop" if stopped else "length", seeds[0]))
        return results
