"""Stage 3, the LLM judge, through the database: only survivors of the cheap critics are
judged, a wrong answer falls below the rubric's floor (`judge`), a malformed judge answer is
recorded as such and never crashes scoring, and a real SmolLM2 judge runs end to end."""

from __future__ import annotations

import json

import pytest

from curation.campaigns.config import parse_config
from curation.campaigns.imports import candidates_import
from curation.campaigns.models import CandidateStatus
from curation.campaigns.services import campaign_create_or_update
from curation.scoring.models import CriticScore
from curation.scoring.services import candidates_judge, candidates_score
from tests.support.endpoint import Endpoint

WRONG = "The standard library is not designed for creating threads, so Python programs cannot run threads."
RIGHT = "Use the threading module: create a Thread with a target function, call start, then join it."
GARBLE = (
    "Use the concurrent.futures module and submit callables to a ThreadPoolExecutor, then collect results."
)


class JudgeEndpoint(Endpoint):
    """Answers as a judge would: low marks for the false claim, a rambling non-answer for
    one item (malformed), high marks otherwise."""

    @staticmethod
    def completion(body: dict) -> dict:
        question = body["messages"][-1]["content"]
        if question.endswith("Revised answer:"):  # the generator asked to fix its answer
            text = RIGHT + " The threading module is part of the standard library."
        elif "not designed for creating threads" in question:
            text = "correct: 1/5 - false: threading is in the standard library\nhelpful: 2/5 - misleads\n"
            text += "clear: 4/5 - readable\nhonest: 1/5 - states a falsehood with confidence"
        elif "ThreadPoolExecutor" in question:
            text = "Well, I think this is a pretty good answer overall, nice job!"
        else:
            text = "correct: 5/5 - right\nhelpful: 5/5 - answers it\nclear: 4/5 - fine\nhonest: 5/5 - plain"
        return {
            "id": "judge",
            "object": "chat.completion",
            "model": body.get("model"),
            "choices": [
                {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}
            ],
            "usage": {"prompt_tokens": 100, "completion_tokens": 30, "total_tokens": 130},
        }


@pytest.fixture
def judge_endpoint():
    endpoint = JudgeEndpoint(delay_s=0.0)
    yield endpoint
    endpoint.close()


def _campaign(judge_generator: dict | None, slug: str = "judged", **judge):
    block = {"floor": 0.5, **judge}
    if judge_generator:
        block["generator"] = judge_generator
    config = parse_config({"slug": slug, "source": "tea", "count": 1, "critics": {"judge": block}})
    return campaign_create_or_update(config=config)[0]


def _import(campaign, tmp_path, rows: list[tuple[str, str, str]]) -> list[int]:
    path = tmp_path / "c.jsonl"
    path.write_text("".join(json.dumps({"id": i, "prompt": p, "response": r}) + "\n" for i, p, r in rows))
    candidates_import(path=path, campaign=campaign)
    return list(campaign.candidates.values_list("id", flat=True))


def test_the_judge_sees_only_survivors_and_its_floor_rejects(
    tea_sources, judge_endpoint, tmp_path, django_capture_on_commit_callbacks
):
    campaign = _campaign({"backend": "openai", "model": "judge-7b", "base_url": judge_endpoint.base_url})
    ids = _import(
        campaign,
        tmp_path,
        [
            ("wrong", "How do I run threads in Python?", WRONG),
            ("right", "How do I run threads in Python?", RIGHT),
            ("garble", "How do I run many calls at once?", GARBLE),
            ("short", "How do I run threads?", "Threads."),
        ],
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        candidates_score(candidate_ids=ids)
    assert len(callbacks) == 2  # one judge task for the survivors, one diversity update
    got = {c.external_id: c for c in campaign.candidates.all()}
    assert got["short"].status == CandidateStatus.AUTO_REJECTED  # rejected before any judge call
    assert {got[k].status for k in ("wrong", "right", "garble")} == {CandidateStatus.SCORED}

    candidates_judge(candidate_ids=ids)
    assert judge_endpoint.requests == 3  # "short" never cost a judge call
    got = {c.external_id: c for c in campaign.candidates.all()}
    assert got["wrong"].status == CandidateStatus.AUTO_REJECTED and got["wrong"].reasons == ["judge"]
    wrong = CriticScore.objects.get(candidate=got["wrong"], critic="judge")
    assert wrong.score == pytest.approx((0 + 0.25 + 0.75 + 0) / 4)  # 1..5 mapped to 0..1
    assert "false: threading is in the standard library" in wrong.rationale
    assert got["right"].status == CandidateStatus.IN_REVIEW
    right = CriticScore.objects.get(candidate=got["right"], critic="judge")
    assert got["right"].priority == pytest.approx(right.score)
    # A malformed answer is recorded, never fatal, and does not reject the candidate.
    garbled = CriticScore.objects.get(candidate=got["garble"], critic="judge")
    assert garbled.details["malformed"] is True and garbled.score is None and garbled.passed
    assert "pretty good answer" in garbled.details["raw"]
    assert got["garble"].status == CandidateStatus.IN_REVIEW

    # Idempotent: judging again asks nothing more.
    candidates_judge(candidate_ids=ids)
    assert judge_endpoint.requests == 3


def test_a_changed_rubric_is_a_new_judge_version():
    from curation.scoring.services import judge_version

    a = parse_config({"slug": "a", "source": "tea", "count": 1, "critics": {"judge": {}}})
    b = parse_config({"slug": "a", "source": "tea", "count": 1, "critics": {"judge": {"floor": 0.7}}})
    c = parse_config(
        {"slug": "a", "source": "tea", "count": 1, "critics": {"judge": {"principles": ["Be correct."]}}}
    )
    assert len({judge_version(a), judge_version(b), judge_version(c)}) == 3


@pytest.mark.parametrize(
    ("judge", "message"),
    [
        ({"floor": 2}, "critics.judge.floor"),
        ({"principles": []}, "critics.judge.principles"),
        ({"generator": {"backend": "openai"}}, "base_url"),
        ({"colour": "red"}, "critics.judge.colour"),
    ],
)
def test_bad_judge_settings_are_refused_where_the_config_enters(judge, message):
    from curation.core.errors import InvalidInput

    with pytest.raises((InvalidInput, ValueError)) as refused:
        parse_config({"slug": "a", "source": "tea", "count": 1, "critics": {"judge": judge}})
    assert message in str(refused.value)


def test_critique_and_revise_makes_one_machine_revised_candidate(
    tea_sources, judge_endpoint, tmp_path, client, bob, django_capture_on_commit_callbacks
):
    endpoint = {"backend": "openai", "model": "gen-7b", "base_url": judge_endpoint.base_url}
    config = {"slug": "revised", "source": "tea", "count": 1, "generator": endpoint}
    config["critics"] = {"judge": {"revise": True}}  # the judge is the campaign's own model
    campaign = campaign_create_or_update(config=parse_config(config))[0]
    ids = _import(campaign, tmp_path, [("wrong", "How do I run threads in Python?", WRONG)])
    candidates_score(candidate_ids=ids)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        candidates_judge(candidate_ids=ids)
    original = campaign.candidates.get(external_id="wrong")
    assert original.status == CandidateStatus.AUTO_REJECTED and original.reasons == ["judge"]
    revision = original.revisions.get()
    assert len(callbacks) == 2  # its scoring is queued, and the diversity update
    assert revision.response.startswith(RIGHT) and revision.status == CandidateStatus.GENERATED
    assert revision.parents[0] == original.public_id
    assert revision.generator["revised"]["from"] == original.public_id
    assert "false: threading is in the standard library" in revision.generator["revised"]["critique"]
    # Idempotent: judging again makes no second revision.
    candidates_judge(candidate_ids=ids)
    assert original.revisions.count() == 1
    # The revision is scored and judged like any candidate, and never revised itself.
    candidates_score(candidate_ids=[revision.pk])
    candidates_judge(candidate_ids=[revision.pk])
    revision.refresh_from_db()
    assert revision.status == CandidateStatus.IN_REVIEW and not revision.revisions.exists()
    # The reviewer sees the original, the critique and the revision.
    client.force_login(bob)
    client.post("/review/revised/start/")
    page = client.get("/review/revised/").content.decode()
    assert 'id="revision"' in page and "Machine-revised" in page
    assert "not designed for creating threads" in page  # the original
    assert "false: threading is in the standard library" in page  # the critique


@pytest.mark.slow
def test_a_real_smollm2_judge_scores_or_flags_every_survivor(tea_sources, tmp_path):
    campaign = _campaign(None, slug="smol", max_tokens=48)
    ids = _import(
        campaign,
        tmp_path,
        [("wrong", "How do I run threads in Python?", WRONG), ("right", "How do I run threads?", RIGHT)],
    )
    candidates_score(candidate_ids=ids)
    candidates_judge(candidate_ids=ids)
    for c in campaign.candidates.all():
        s = CriticScore.objects.get(candidate=c, critic="judge")
        assert s.details["malformed"] or 0 <= s.score <= 1
        assert s.details["raw"] or s.details["malformed"]
        assert c.status in (CandidateStatus.IN_REVIEW, CandidateStatus.AUTO_REJECTED)


def test_a_judge_task_that_died_after_judging_revises_on_its_retry(tea_sources, judge_endpoint, tmp_path):
    from curation.campaigns.config import stored_config
    from curation.scoring.services import _judge

    endpoint = {"backend": "openai", "model": "gen-7b", "base_url": judge_endpoint.base_url}
    config = {"slug": "died", "source": "tea", "count": 1, "generator": endpoint}
    config["critics"] = {"judge": {"revise": True}}
    campaign = campaign_create_or_update(config=parse_config(config))[0]
    ids = _import(campaign, tmp_path, [("wrong", "How do I run threads in Python?", WRONG)])
    candidates_score(candidate_ids=ids)
    _judge(list(campaign.candidates.all()), stored_config(campaign.config))  # then the worker died
    candidates_judge(candidate_ids=ids)  # the task's retry: nothing left to judge, a revision to make
    original = campaign.candidates.get(external_id="wrong")
    assert original.revisions.count() == 1 and original.status == CandidateStatus.AUTO_REJECTED
