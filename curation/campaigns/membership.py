"""Who may see and review a members-only campaign: its CampaignMembership rows and its
`members_only` switch, changed by the admin, the campaign_members command and nothing else.
Admins and viewers see every campaign; membership restricts experts only."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from curation.accounts.models import Role, User
from curation.campaigns.models import Campaign, CampaignMembership
from curation.core.errors import InvalidInput


def campaign_members(*, campaign: Campaign) -> list[User]:
    """The campaign's members, by username."""
    return list(User.objects.filter(memberships__campaign=campaign).order_by("username"))


def _users(usernames: Iterable[str]) -> list[User]:
    names = sorted({u.strip() for u in usernames if u and u.strip()})
    found = {u.username: u for u in User.objects.filter(username__in=names)}
    unknown = [n for n in names if n not in found]
    if unknown:
        raise InvalidInput(f"no user {', '.join(map(repr, unknown))}; nothing was changed")
    return [found[n] for n in names]


def campaign_members_set(
    *,
    campaign: Campaign,
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
    members_only: bool | None = None,
) -> list[User]:
    """Add and remove members by username and, when given, switch `members_only`; all or
    nothing (an unknown username changes nothing). Adding a member twice or removing a
    non-member is not an error. Returns the members afterwards."""
    adding, removing = _users(add), _users(remove)
    both = {u.username for u in adding} & {u.username for u in removing}
    if both:
        raise InvalidInput(f"{', '.join(sorted(both))}: both added and removed; nothing was changed")
    others = sorted(u.username for u in adding if u.role != Role.EXPERT)
    if others:
        raise InvalidInput(
            f"{', '.join(others)}: not an expert (admins and viewers see every campaign); nothing was changed"
        )
    with transaction.atomic():
        CampaignMembership.objects.bulk_create(
            [CampaignMembership(campaign=campaign, user=u) for u in adding], ignore_conflicts=True
        )
        CampaignMembership.objects.filter(campaign=campaign, user__in=removing).delete()
        if members_only is not None and members_only != campaign.members_only:
            Campaign.objects.filter(pk=campaign.pk).update(members_only=members_only)
            campaign.members_only = members_only
    return campaign_members(campaign=campaign)
