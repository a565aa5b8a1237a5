"""The export page's form: it only types what was sent; the rules (known campaigns and
sources, caps, the folder name) are the export's own, checked by the job service."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone

FORMATS = [
    ("jsonl", "JSONL (data.jsonl)"),
    ("parquet", "Parquet (data.parquet)"),
    ("hf", "Hugging Face folder"),
]
SPLITS = [("train", "train: a training mixture"), ("heldout", "held-out: an evaluation set, human data only")]


def default_folder() -> str:
    return timezone.now().strftime("export-%Y%m%d-%H%M%S")


class ExportForm(forms.Form):
    campaigns = forms.MultipleChoiceField(required=False, widget=forms.SelectMultiple(attrs={"size": 6}))
    sources = forms.MultipleChoiceField(required=False, widget=forms.SelectMultiple(attrs={"size": 6}))
    max_synthetic = forms.FloatField(
        required=False,
        label="Synthetic cap",
        help_text="The most synthetic / (synthetic + human), overall and per stratum; "
        "blank: the campaigns' own (the lowest of several), else 0.3.",
        widget=forms.NumberInput(
            attrs={"step": "0.01", "min": "0", "max": "0.99", "placeholder": "campaigns'"}
        ),
    )
    balance_by = forms.CharField(
        required=False,
        max_length=100,
        label="Balance by",
        help_text="A metadata field whose values are strata (e.g. topic); blank: the campaigns' own.",
        widget=forms.TextInput(attrs={"placeholder": "campaigns'"}),
    )
    no_strata = forms.BooleanField(required=False, label="No strata, whatever the campaigns say")
    max_depth = forms.IntegerField(
        required=False,
        min_value=1,
        label="Generation depth",
        help_text="The highest generation depth kept; "
        "blank: the campaigns' own, else 1 (no synthetic of synthetic).",
        widget=forms.NumberInput(attrs={"placeholder": "campaigns'"}),
    )
    max_per_generator = forms.FloatField(
        required=False,
        label="Share per generator",
        help_text="The most of the synthetic part one generator model may make; blank: the campaigns' own.",
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0", "max": "1", "placeholder": "campaigns'"}),
    )
    seed = forms.IntegerField(initial=0, label="Seed")
    ladder = forms.CharField(
        required=False,
        max_length=500,
        label="Ablation ladder",
        help_text="Caps for a series of nested mixtures, e.g. 0,0.1,0.2,0.3 (one subfolder each); "
        "blank: one mixture.",
    )
    fmt = forms.ChoiceField(choices=FORMATS, initial="jsonl", label="Format")
    split = forms.ChoiceField(choices=SPLITS, initial="train", label="Split")
    folder = forms.CharField(
        required=False,  # a preview needs none; a run without one is refused by the service
        max_length=200,
        label="Folder",
        help_text="A new folder name under the export folder (letters, digits, '.', '-', '_').",
    )

    def __init__(
        self, *args: Any, campaigns: list[tuple[str, str]], sources: list[tuple[str, str]], **kwargs: Any
    ):
        super().__init__(*args, **kwargs)
        self.fields["campaigns"].choices = campaigns
        self.fields["sources"].choices = sources

    def clean_ladder(self) -> list[float] | None:
        text = self.cleaned_data.get("ladder") or ""
        if not text.strip():
            return None
        try:
            return [float(x) for x in text.split(",") if x.strip()]
        except ValueError:
            raise forms.ValidationError("give fractions separated by commas, e.g. 0,0.1,0.2") from None

    def clean_folder(self) -> str:
        return (self.cleaned_data.get("folder") or "").strip()

    def preview_params(self) -> dict[str, Any]:
        """export_preview's keywords from the cleaned form."""
        d = self.cleaned_data
        balance_by = "" if d.get("no_strata") else (d.get("balance_by") or "").strip() or None
        return {
            "campaign_slugs": list(d.get("campaigns") or []),
            "source_names": list(d.get("sources") or []),
            "max_synthetic": d.get("max_synthetic"),
            "balance_by": balance_by,
            "max_depth": d.get("max_depth"),
            "max_per_generator": d.get("max_per_generator"),
            "seed": d.get("seed") or 0,
            "split": d.get("split") or "train",
            "ladder": d.get("ladder"),
        }

    def job_params(self) -> dict[str, Any]:
        """export_job_create's keywords: the preview's, the format and the folder."""
        d = self.cleaned_data
        return {**self.preview_params(), "fmt": d["fmt"], "folder": d["folder"]}
