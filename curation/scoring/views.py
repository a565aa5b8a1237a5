from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from curation.core.errors import AssayError
from curation.scoring.services import candidate_reinstate


@login_required
@require_POST
def reinstate(request: HttpRequest, slug: str, candidate_id: int) -> HttpResponse:
    """An admin sends an auto-rejected candidate back to review, with a reason."""
    if not request.user.is_admin_role:
        raise PermissionDenied("Only admins reinstate candidates.")
    try:
        candidate_reinstate(
            user=request.user, candidate_id=candidate_id, reason=request.POST.get("reason", "")
        )
    except AssayError as e:
        messages.error(request, str(e))
    else:
        messages.success(request, f"Candidate #{candidate_id} is back in review.")
    return redirect(reverse("campaign_detail", args=[slug]) + "?status=auto_rejected")
