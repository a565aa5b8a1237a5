"""Hugging Face transformers on the CPU (or one GPU): the embedded default backend.

Batched, left-padded sampling with one random generator per row, so each output
depends on its own seed only; one model per worker process (see registry)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, ClassVar

from workers.generation.base import Generation, GenerationError, Message, SamplingParams
from workers.generation.models import resolve_model

if TYPE_CHECKING:
    import torch


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
        # One batch at a time: two at once would only share the same cores and double the memory.
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
        if params.json_schema is not None:
            raise GenerationError(
                "guided JSON decoding (json_schema) needs backend vllm or openai, not transformers",
                permanent=True,
            )
        if not conversations:
            return []
        torch = self._torch
        texts = [self._render(c) for c in conversations]
        enc = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(
            self.device
        )
        processors = []
        if params.temperature > 0:
            generators = [torch.Generator(device=self.device).manual_seed(s) for s in seeds]
            processors.append(_PerRowSampler(generators, params.temperature, params.top_p))
        with self._lock, torch.inference_mode():
            # do_sample=False: the per-row sampler has already picked each row's token, and
            # greedy decoding takes exactly that one (every other score is -inf). The None's
            # keep the model's own sampling defaults (generation_config.json) out of it.
            out = self.lm.generate(
                **enc,
                do_sample=False,
                temperature=None,
                top_p=None,
                top_k=None,
                logits_processor=processors,
                max_new_tokens=params.max_tokens,
                pad_token_id=self.tokenizer.pad_token_id,
            )
        new = out[:, enc["input_ids"].shape[1] :]
        results = []
        eos = self.tokenizer.eos_token_id
        for row, seed in zip(new.tolist(), seeds, strict=True):
            n = len(row)
            while n and row[n - 1] == self.tokenizer.pad_token_id:
                n -= 1
            stopped = eos in row[:n] or n < len(row)
            text = self.tokenizer.decode(row[:n], skip_special_tokens=True)
            results.append(Generation(text.strip(), n, "stop" if stopped else "length", seed))
        return results


class _PerRowSampler:
    """A logits processor that samples every row with its own generator.

    transformers draws a whole batch from one generator, so a row's text would depend on
    its neighbours. Here row i's token is drawn from its temperature and top-p filtered
    distribution with generators[i] alone; the returned scores keep only that token. Rows
    that already finished still draw (their token is replaced by padding), which only
    advances their own generator."""

    def __init__(self, generators: list[torch.Generator], temperature: float, top_p: float) -> None:
        self.generators = generators
        self.temperature = temperature
        self.top_p = top_p

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        import torch

        probs = torch.softmax(scores.float() / self.temperature, dim=-1)
        ordered, order = probs.sort(dim=-1, descending=True)
        if self.top_p < 1.0:
            # Keep the smallest head whose mass reaches top_p: a token goes when the ones
            # before it already reach it, so the most likely token always stays.
            ordered = ordered.masked_fill(ordered.cumsum(dim=-1) - ordered >= self.top_p, 0.0)
        picked = torch.stack(
            [torch.multinomial(ordered[i], 1, generator=g) for i, g in enumerate(self.generators)]
        )
        chosen = order.gather(-1, picked)
        return torch.full_like(scores, float("-inf")).scatter_(-1, chosen, 0.0)
