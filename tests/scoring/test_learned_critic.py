"""The learned critic through the database: trained from expert decisions (real MiniLM
embeddings of real texts), stored as JSON, used on newly scored candidates, reordering the
queue, and its retraining queued by reviews; calibration figures against hand-computed ones."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from curation.campaigns.config import parse_config
from curation.campaigns.imports import candidates_import
from curation.campaigns.models import Candidate, CandidateStatus
from curation.campaigns.services import campaign_create_or_update
from curation.scoring.learning import learned_maybe_queue, learned_train
from curation.scoring.models import CriticScore, LearnedCritic
from curation.scoring.selectors import campaign_calibration
from curation.scoring.services import candidates_score
from curation.sources.services import examples_import
from tests.conftest import DATA
from workers.critics.text import content_sha256, text_key

FAQ = DATA.parent.parent / "curation" / "demo" / "data" / "python_faq.jsonl"
PY = [json.loads(line) for line in FAQ.read_text(encoding="utf-8").splitlines()]
TEA = [
    json.loads(line)
    for name in ("tea_train", "tea_heldout", "tea_candidates")
    for line in (DATA / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
]


OFF_TOPIC = (
    "Warm the teapot with hot water first, then add the leaves and pour water just off the boil. "
    "Let a strong black tea steep for four minutes and serve it with a little milk."
)


@pytest.fixture
def campaign(db, tmp_path):
    path = tmp_path / "seed.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in PY[:10]), encoding="utf-8")
    examples_import(path=path, source_name="pyfaq", split="train")
    config = {"slug": "py", "source": "pyfaq", "count": 1}
    return campaign_create_or_update(config=parse_config(config))[0]


def decided(campaign, rows: list[tuple[str, str]], status: str) -> list[Candidate]:
    return [
        Candidate.objects.create(
            campaign=campaign,
            prompt=p,
            response=r,
            status=status,
            decided_at=timezone.now() if status in ("approved", "rejected") else None,
            content_sha256=content_sha256({"prompt": p, "response": r, "n": i, "s": status}),
            text_key=text_key(r),
        )
        for i, (p, r) in enumerate(rows)
    ]


@pytest.mark.slow
def test_it_learns_what_experts_accept_and_judges_new_candidates(campaign, tmp_path, settings):
    # Experts accepted real Python answers and rejected off-topic answers (about tea) to
    # Python questions: a set where the right answer is known.
    good = [(r["prompt"], r["response"]) for r in PY[20:40]]
    bad = [(PY[60 + i]["prompt"], t["response"]) for i, t in enumerate(TEA[:16])]
    decided(campaign, good[:10], CandidateStatus.APPROVED)
    decided(campaign, bad[:10], CandidateStatus.REJECTED)
    assert learned_train(campaign_id=campaign.pk) is None  # 20 decisions: not enough, nothing stored
    assert not LearnedCritic.objects.exists()
    decided(campaign, good[10:], CandidateStatus.APPROVED)
    decided(campaign, bad[10:], CandidateStatus.REJECTED)

    row = learned_train(campaign_id=campaign.pk)
    assert row.version == 1 and row.trained_on == 36
    assert row.quality["good_enough"] is True, row.quality
    assert row.quality["auc"] > 0.9

    path = tmp_path / "new.jsonl"
    new = [
        {"id": "py-good", "prompt": PY[100]["prompt"], "response": PY[100]["response"] + " (Rewritten.)"},
        {"id": "tea-bad", "prompt": PY[101]["prompt"], "response": OFF_TOPIC},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in new), encoding="utf-8")
    candidates_import(path=path, campaign=campaign)
    ids = list(campaign.candidates.filter(status=CandidateStatus.GENERATED).values_list("id", flat=True))
    candidates_score(candidate_ids=ids)
    got = {c.external_id: c for c in campaign.candidates.filter(pk__in=ids)}
    p_good = CriticScore.objects.get(candidate=got["py-good"], critic="learned").score
    p_bad = CriticScore.objects.get(candidate=got["tea-bad"], critic="learned").score
    assert p_good > 0.5 > p_bad
    assert got["tea-bad"].status == CandidateStatus.AUTO_REJECTED and got["tea-bad"].reasons == ["learned"]
    assert got["py-good"].status == CandidateStatus.IN_REVIEW
    # Most uncertain first by default: the priority is 1 at p = 0.5.
    assert got["py-good"].priority == pytest.approx(1 - abs(p_good - 0.5) * 2, abs=1e-5)


@pytest.mark.slow
def test_a_floor_stays_off_while_calibration_is_poor(campaign):
    # Labels unrelated to the texts: nothing to learn, so the model only orders the queue.
    texts = [(r["prompt"], r["response"]) for r in PY[20:60]]
    decided(campaign, texts[0::2], CandidateStatus.APPROVED)
    decided(campaign, texts[1::2], CandidateStatus.REJECTED)
    row = learned_train(campaign_id=campaign.pk)
    assert row.quality["good_enough"] is False and row.quality["why"]


def test_retraining_is_queued_after_enough_new_decisions(campaign, django_capture_on_commit_callbacks):
    rows = [(r["prompt"], r["response"]) for r in PY[20:60]]
    decided(campaign, rows[:29], CandidateStatus.APPROVED)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert learned_maybe_queue(campaign_id=campaign.pk) is False  # 29 < 30
        decided(campaign, rows[29:30], CandidateStatus.REJECTED)
        assert learned_maybe_queue(campaign_id=campaign.pk) is True
    assert len(callbacks) == 1
    LearnedCritic.objects.create(campaign=campaign, version=1, trained_on=30, quality={}, params={})
    assert learned_maybe_queue(campaign_id=campaign.pk) is False  # nothing new since
    decided(campaign, rows[30:40], CandidateStatus.REJECTED)
    assert learned_maybe_queue(campaign_id=campaign.pk) is True  # 10 more


def test_calibration_matches_hand_computed_figures(campaign):
    # 20 decided candidates; critic "length" passed 12 (9 accepted, 3 rejected) and failed 8
    # (2 accepted, 6 rejected): precision 9/12, recall 9/11. Its scores: 1.0 when passed, 0.2
    # when failed, so AUC = P(score of an accepted > score of a rejected) + ties / 2:
    # accepted 9 at 1.0 and 2 at 0.2; rejected 3 at 1.0 and 6 at 0.2; pairs 11 * 9 = 99;
    # wins 9*6 = 54; ties 9*3 + 2*6 = 39; AUC = (54 + 39/2) / 99 = 0.742424...
    plan = [(True, True)] * 9 + [(True, False)] * 3 + [(False, True)] * 2 + [(False, False)] * 6
    assert campaign_calibration(campaign=campaign) is None
    for i, (passed, accepted) in enumerate(plan):
        status = CandidateStatus.APPROVED if accepted else CandidateStatus.REJECTED
        (c,) = decided(campaign, [(f"q{i}", f"a{i}")], status)
        CriticScore.objects.create(
            candidate=c, critic="length", version="1", score=1.0 if passed else 0.2, passed=passed
        )
    got = campaign_calibration(campaign=campaign)["length"]
    assert got["n"] == 20
    assert got["precision"] == pytest.approx(9 / 12)
    assert got["recall"] == pytest.approx(9 / 11)
    assert got["auc"] == pytest.approx((54 + 39 / 2) / 99)
    assert got["confusion"] == {"tp": 9, "fp": 3, "fn": 2, "tn": 6}


def test_show_campaign_json_and_the_page_give_the_calibration(campaign, client, alice):
    from io import StringIO

    from django.core.management import call_command

    for i in range(20):
        status = CandidateStatus.APPROVED if i % 2 else CandidateStatus.REJECTED
        (c,) = decided(campaign, [(f"q{i}", f"a{i}")], status)
        CriticScore.objects.create(candidate=c, critic="judge", version="1", score=i / 20, passed=i >= 10)
    out = StringIO()
    call_command("show_campaign", "py", "--json", stdout=out)
    body = json.loads(out.getvalue())
    judge = body["calibration"]["judge"]
    assert {"auc", "precision", "recall", "n"} <= set(judge) and judge["n"] == 20
    assert judge["spearman"] is not None and judge["spearman_n"] == 20
    client.force_login(alice)
    page = client.get("/campaigns/py/").content.decode()
    assert "Which critic to trust" in page and "Spearman" in page
