"""A campaign's diversity as the task keeps it: counted once, compared with the human data
on equal samples, alarmed when it narrows, shown on the page and by the commands."""

from __future__ import annotations

import json

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from curation.campaigns.models import CandidateStatus
from curation.metrics import services
from curation.metrics.models import ALL_DEPTHS, DiversityInclusion, DiversitySnapshot, DiversityState
from curation.metrics.selectors import campaign_diversity
from curation.metrics.services import diversity_update
from tests.metrics.conftest import collapsed_rows, faq_rows, make_campaign, write
from workers.metrics.semantic import Moments

pytestmark = pytest.mark.django_db


def _figures(campaign):
    diversity_update(campaign_id=campaign.pk)
    return campaign_diversity(campaign=campaign)


def test_a_healthy_campaign_raises_no_alarm(healthy):
    figures = _figures(healthy)
    assert figures["n"] == healthy.candidates.count() == 86
    versus = figures["versus_human"]
    assert versus["n"] == 86  # equal samples: min(campaign, human)
    assert figures["alarms"] == [] and figures["advice"] == []
    for name in ("vendi", "distinct_2", "mattr", "mean_distance", "coverage"):
        assert abs(versus["change"][name]) < 0.1, (name, versus["change"])
    assert figures["whole"]["coverage"] == 1.0
    assert [d["depth"] for d in figures["depths"]] == [1]


def test_a_collapsed_campaign_raises_the_alarm_with_what_to_do(collapsed):
    figures = _figures(collapsed)
    alarmed = {a["metric"] for a in figures["alarms"] if a["against"] == "human"}
    assert {"vendi", "distinct_2", "mean_distance", "coverage"} <= alarmed
    assert figures["versus_human"]["change"]["vendi"] < -0.5
    assert any("temperature" in a for a in figures["advice"])
    assert figures["coverage"]["under"]  # the real clusters it left empty are named
    depth2 = next(d for d in figures["depths"] if d["depth"] == 2)
    assert depth2["previous"] == 1 and "vendi" in depth2["versus_previous"]["change"]


def test_depth_two_that_lost_diversity_against_depth_one_is_an_alarm(faq_source, tmp_path):
    real = [
        {"prompt": r["prompt"], "response": r["response"], "generation_depth": 1} for r in faq_rows()[1::2]
    ]
    narrow = [{**r, "prompt": r["prompt"] + " (again)"} for r in collapsed_rows(depths=(2,))]
    campaign = make_campaign("deep", real + narrow, tmp_path, mixture={"max_depth": 2})
    figures = _figures(campaign)
    deep = [a for a in figures["alarms"] if a["scope"] == "depth 2"]
    assert {a["against"] for a in deep} == {"depth 1"} and any(a["metric"] == "vendi" for a in deep)


def test_the_threshold_is_the_campaigns_own(faq_source, tmp_path):
    lenient = make_campaign("lenient", collapsed_rows(), tmp_path, alarm={"drop": 0.99})
    figures = _figures(lenient)
    assert figures["drop"] == 0.99 and figures["alarms"] == []


def test_each_candidate_is_counted_once_whatever_fails_on_the_way(collapsed, monkeypatch):
    assert diversity_update(campaign_id=collapsed.pk) == 90
    assert diversity_update(campaign_id=collapsed.pk) == 0  # a rerun counts nothing twice
    once = DiversityState.objects.get(campaign=collapsed, depth=ALL_DEPTHS)

    # Again from nothing, in chunks of 7, with a crash in the middle of the fourth chunk.
    DiversityState.objects.filter(campaign=collapsed).delete()
    DiversityInclusion.objects.filter(campaign=collapsed).delete()
    monkeypatch.setattr(services, "CHUNK", 7)
    calls = {"n": 0}
    real_add = services._add

    def crashing(state, group, vectors, cents):
        calls["n"] += 1
        if calls["n"] == 10:
            raise RuntimeError("worker lost")
        real_add(state, group, vectors, cents)

    monkeypatch.setattr(services, "_add", crashing)
    with pytest.raises(RuntimeError):
        diversity_update(campaign_id=collapsed.pk)
    partial = DiversityState.objects.get(campaign=collapsed, depth=ALL_DEPTHS)
    assert partial.n == DiversityInclusion.objects.filter(campaign=collapsed).count() < 90
    assert diversity_update(campaign_id=collapsed.pk) == 90 - partial.n
    again = DiversityState.objects.get(campaign=collapsed, depth=ALL_DEPTHS)
    assert again.n == 90 and again.clusters == once.clusters
    a, b = Moments.from_bytes(bytes(again.moments)), Moments.from_bytes(bytes(once.moments))
    assert a.vendi() == pytest.approx(b.vendi(), rel=1e-4)  # float32 products, another order
    assert sorted(again.sample) == sorted(once.sample)
    depths = DiversityState.objects.filter(campaign=collapsed).exclude(depth=ALL_DEPTHS)
    assert sum(s.n for s in depths) == 90


def test_candidates_the_critics_are_not_done_with_wait(collapsed):
    collapsed.candidates.filter(pk__in=list(collapsed.candidates.values_list("pk", flat=True)[:10])).update(
        status=CandidateStatus.GENERATED
    )
    assert diversity_update(campaign_id=collapsed.pk) == 80


def test_a_changed_source_is_reclustered_and_the_campaign_recounted(healthy, tmp_path):
    from curation.metrics.models import ReferenceClusters
    from curation.sources.services import examples_import

    before = _figures(healthy)
    assert before["coverage"]["clusters"] == 7  # about sqrt(87 / 2)
    more = [
        {"prompt": f"extra {i}", "response": r["response"] + " (second edition)"}
        for i, r in enumerate(faq_rows()[:30])
    ]
    examples_import(
        path=write(tmp_path / "more.jsonl", more), source_name="faq", split="train", license="PSF-2.0"
    )
    after = _figures(healthy)  # nothing new to count: the campaign is recounted all the same
    assert after["reference"] != before["reference"]
    assert after["human"]["n"] == before["human"]["n"] + 30
    assert after["coverage"]["clusters"] == 8  # about sqrt(117 / 2)
    state = DiversityState.objects.get(campaign=healthy, depth=ALL_DEPTHS)
    assert len(state.clusters) == len(ReferenceClusters.objects.get().counts) == 8
    assert sum(state.clusters) == state.n == 86
    assert after["n"] == 86 and DiversityInclusion.objects.filter(campaign=healthy).count() == 86


def test_snapshots_make_a_time_series(faq_source, tmp_path):
    rows = [{"prompt": r["prompt"], "response": r["response"]} for r in faq_rows()[1::2]]
    campaign = make_campaign("grows", rows[:20], tmp_path)
    diversity_update(campaign_id=campaign.pk)
    from curation.campaigns.imports import candidates_import

    candidates_import(path=write(tmp_path / "rest.jsonl", rows[20:]), campaign=campaign)
    campaign.candidates.update(status=CandidateStatus.IN_REVIEW)
    diversity_update(campaign_id=campaign.pk)
    snaps = list(DiversitySnapshot.objects.filter(campaign=campaign))
    assert [s.n for s in snaps] == [20, 86]
    assert "vendi" in snaps[-1].metrics["change"]


def test_the_sweeper_queues_a_campaign_left_uncounted(collapsed):
    from datetime import timedelta

    from django.utils import timezone

    old = timezone.now() - timedelta(hours=1)
    type(collapsed).objects.filter(pk=collapsed.pk).update(scored_at=old)
    assert services.diversity_sweep() == 1  # scored, never counted
    diversity_update(campaign_id=collapsed.pk)
    assert services.diversity_sweep() == 0  # counted since the last scoring


def test_diversity_report_for_a_source_a_campaign_and_an_export(healthy, collapsed, tmp_path, capsys):
    call_command("diversity_report", "--source", "faq", "--json")
    source = json.loads(capsys.readouterr().out)
    assert source["n"] == 87 and {"distinct_1", "distinct_2", "vendi", "mattr", "mean_distance"} <= set(
        source
    )
    arr = np.array([source["vendi"]])
    assert np.isfinite(arr).all()

    call_command("diversity_report", "--campaign", "collapsed")
    table = capsys.readouterr().out
    assert "ALARM" in table and "Vendi score" in table and "depth 2" in table and "What to do" in table
    call_command("diversity_report", "--campaign", "healthy", "--png", str(tmp_path / "d.png"))
    assert "No alarm" in capsys.readouterr().out
    assert (tmp_path / "d.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    healthy.candidates.update(status=CandidateStatus.APPROVED, decided_at=timezone.now())
    call_command(
        "export_dataset",
        "--campaign",
        "healthy",
        "--source",
        "faq",
        "--max-synthetic",
        "0.5",
        "--format",
        "jsonl",
        "--out",
        str(tmp_path / "out"),
    )
    export_id = int(capsys.readouterr().out.strip())
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    div = manifest["diversity"]
    assert div["human"]["n"] == 87 and div["synthetic"]["n"] + 87 == div["whole"]["n"]
    assert {"vendi", "distinct_2", "mattr", "mean_distance"} <= set(div["whole"])
    call_command("diversity_report", "--export", str(export_id), "--json")
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == div["whole"]["n"] and report["vendi"] == div["whole"]["vendi"]
    assert [g["name"] for g in report["groups"]] == ["human", "synthetic", "whole"]

    with pytest.raises(CommandError, match="no source named 'nope'"):
        call_command("diversity_report", "--source", "nope")
    with pytest.raises(CommandError, match="no export 999"):
        call_command("diversity_report", "--export", "999")


def test_show_campaign_json_holds_the_figures(collapsed, capsys):
    diversity_update(campaign_id=collapsed.pk)
    call_command("show_campaign", "collapsed", "--json")
    body = json.loads(capsys.readouterr().out)
    assert body["diversity"]["n"] == 90 and body["diversity"]["alarms"]
    assert body["diversity"]["change"]["vendi"] < -0.5


def test_the_page_shows_the_alarm_charts_and_escaped_cluster_names(collapsed, client, alice):
    assert client.get(f"/campaigns/{collapsed.slug}/diversity").status_code == 302
    client.force_login(alice)
    empty = client.get(f"/campaigns/{collapsed.slug}/").content.decode()
    assert "waiting to be counted" in empty  # scored, not counted yet: the page says so
    diversity_update(campaign_id=collapsed.pk)
    html = client.get(f"/campaigns/{collapsed.slug}/").content.decode()
    assert 'role="alert"' in html and "Diversity alarm" in html and "temperature" in html
    assert "<svg" in html and 'data-line="alarm"' in html and 'data-depth="2"' in html
    assert "&lt;i&gt;" in html and "<i>" not in html  # source prompts name the clusters, escaped
    panel = client.get(f"/campaigns/{collapsed.slug}/diversity")
    assert panel.status_code == 200 and b'id="diversity"' in panel.content


def test_the_campaign_list_flags_a_campaign_with_an_alarm(healthy, collapsed, client, alice):
    for c in (healthy, collapsed):
        diversity_update(campaign_id=c.pk)
    client.force_login(alice)
    html = client.get("/").content.decode()
    flagged = html.split('data-campaign="collapsed"')[1].split("</tr>")[0]
    calm = html.split('data-campaign="healthy"')[1].split("</tr>")[0]
    assert "Diversity alarm" in flagged and "vendi" in flagged and "Diversity alarm" not in calm


def test_a_busy_campaign_is_evaluated_at_most_every_few_seconds(
    faq_source, tmp_path, monkeypatch, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from curation.campaigns.imports import candidates_import

    rows = [{"prompt": r["prompt"], "response": r["response"]} for r in faq_rows()[1::2]]
    campaign = make_campaign("busy", rows[:40], tmp_path)
    diversity_update(campaign_id=campaign.pk)
    monkeypatch.setattr(services, "EVALUATE_EVERY", timedelta(hours=1))
    candidates_import(path=write(tmp_path / "rest.jsonl", rows[40:]), campaign=campaign)
    campaign.candidates.update(status=CandidateStatus.IN_REVIEW)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert diversity_update(campaign_id=campaign.pk) == 46  # counted now...
    assert campaign_diversity(campaign=campaign)["n"] == 40  # ...shown a little later
    assert len(callbacks) == 1  # by the update it queued for then
    diversity_update(campaign_id=campaign.pk, force=True)  # diversity_report does not wait
    assert campaign_diversity(campaign=campaign)["n"] == 86
