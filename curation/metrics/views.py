from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from curation.campaigns.models import Campaign
from curation.campaigns.selectors import campaign_get_for_user
from curation.core.errors import NotFound
from curation.metrics import charts
from curation.metrics.selectors import campaign_diversity, diversity_pending, diversity_snapshots
from workers.metrics.collapse import METRICS, MIN_SAMPLE


def diversity_context(campaign: Campaign) -> dict[str, Any]:
    """What the diversity panel shows: stored figures, their charts and tables."""
    figures = campaign_diversity(campaign=campaign)
    waiting = diversity_pending(campaign=campaign)
    context: dict[str, Any] = {
        "campaign": campaign,
        "figures": figures,
        "waiting": waiting,
        "min_sample": MIN_SAMPLE,
    }
    if not figures:
        return context
    drop = figures["drop"]
    versus = figures["versus_human"]
    context["rows"] = [
        {
            "name": name,
            "label": m.label,
            "help": m.help,
            "campaign": versus["sample"].get(name),
            "human": versus["reference"].get(name),
            "change": pct(versus["change"].get(name)),
            "whole": figures["whole"].get(name),
            "watched": m.alarm,
            "alarm": name in versus["alarms"],
        }
        for name, m in METRICS.items()
        if name in versus["sample"]
    ]
    context["depth_rows"] = [
        {
            "depth": d["depth"],
            "n": d["n"],
            "sample": d["versus_human"]["n"],
            "vendi": pct(d["versus_human"]["change"].get("vendi")),
            "distinct_2": pct(d["versus_human"]["change"].get("distinct_2")),
            "previous": d["previous"],
            "previous_vendi": pct(d["versus_previous"]["change"].get("vendi")) if d["previous"] else NONE,
            "previous_distinct_2": pct(d["versus_previous"]["change"].get("distinct_2"))
            if d["previous"]
            else NONE,
        }
        for d in figures["depths"]
    ]
    context["alarm_lines"] = [
        f"{a['scope']}: {METRICS[a['metric']].label} is {-a['change']:.0%} below {_against(a['against'])}"
        for a in figures["alarms"]
    ]
    context["over_time"] = charts.over_time(diversity_snapshots(campaign=campaign), drop)
    context["by_depth"] = charts.by_depth(figures["depths"], drop)
    context["drop_pct"] = round(drop * 100)
    return context


NONE = "\N{EN DASH}"


def pct(change: float | None) -> str:
    return NONE if change is None else f"{change:+.0%}"


def _against(reference: str) -> str:
    return "the human data" if reference == "human" else reference


@login_required
def diversity_panel(request: HttpRequest, slug: str) -> HttpResponse:
    """The campaign page's diversity panel alone: the page polls it while figures change."""
    try:
        campaign = campaign_get_for_user(user=request.user, slug=slug)
    except NotFound as e:
        raise Http404(str(e)) from None
    return render(request, "metrics/_diversity.html", diversity_context(campaign))
