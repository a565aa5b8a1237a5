from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from curation.campaigns.config import load_yaml
from curation.campaigns.services import campaign_config_check, campaign_create_or_update
from curation.core.errors import AssayError
from curation.generation.services import generation_preview
from curation.scoring.services import samples_judge
from workers.generation import GenerationError
from workers.generation.prompts import TemplateProblem


class Command(BaseCommand):
    help = (
        "Create a campaign from a YAML config, or update the campaign with the same slug. "
        "With --preview N: render N prompts, generate them, run the critics and print them, storing nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("config", help="campaign YAML (see README, 'Campaign config')")
        parser.add_argument(
            "--preview",
            type=int,
            metavar="N",
            help="generate and judge N samples with this config and print them; nothing is stored",
        )

    def handle(self, *args, **opts):
        path = Path(opts["config"])
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise CommandError(f"{path}: cannot read ({e})") from None
        try:
            config = load_yaml(text, origin=str(path))
        except AssayError as e:
            raise CommandError(str(e)) from None
        if opts["preview"] is not None:
            self._preview(path, config, opts["preview"])
            return
        try:
            campaign, created = campaign_create_or_update(config=config)
        except AssayError as e:
            raise CommandError(f"{path}: {e}") from None
        self.stdout.write(f"{'created' if created else 'updated'} campaign {campaign.slug}")

    def _preview(self, path: Path, config, n: int) -> None:
        if not 1 <= n <= 100:
            raise CommandError("--preview: give between 1 and 100 samples")
        try:
            source = campaign_config_check(config=config)
            self.stderr.write(
                f"previewing {min(n, config.count)} samples of {config.slug}: nothing is stored"
            )
            samples = generation_preview(config=config, source_id=source.pk, n=n)
        except AssayError as e:
            raise CommandError(f"{path}: {e}") from None
        except (GenerationError, TemplateProblem) as e:
            raise CommandError(f"{path}: preview failed: {e}") from None
        judged = samples_judge(
            config=config,
            samples=[(s.prompt, s.response, s.output.finish_reason, s.output.text) for s in samples],
        )
        for sample, verdict in zip(samples, judged, strict=True):
            attrs = ", ".join(f"{k}: {v}" for k, v in sample.attributes.items())
            self.stdout.write(
                f"=== sample {sample.slot + 1} of {len(samples)}{f' ({attrs})' if attrs else ''}"
            )
            self.stdout.write(f"--- rendered prompt\n{sample.rendered_prompt}")
            self.stdout.write(f"--- model output ({sample.output.tokens} tokens, seed {sample.output.seed})")
            self.stdout.write(sample.output.text)
            self.stdout.write(
                f"--- read as\nQ: {sample.prompt or '(no question found)'}\nA: {sample.response}"
            )
            scores = ", ".join(
                f"{name} {v.score:.2f}" + ("" if v.passed else f" ({v.label})")
                for name, v in verdict.verdicts.items()
            )
            self.stdout.write(f"--- cheap critics (form, exact copies): {scores}")
            outcome = f"auto-rejected ({', '.join(verdict.reasons)})" if verdict.reasons else "to review"
            self.stdout.write(f"--- verdict: {outcome}\n")
        kept = sum(not j.reasons for j in judged)
        self.stdout.write(
            f"preview: {kept} of {len(judged)} pass the cheap critics; near copies, embeddings"
            f"{' and the judge' if config.judge else ''} run when the campaign runs. Nothing was stored"
        )
