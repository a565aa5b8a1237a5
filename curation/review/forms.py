from __future__ import annotations

from django import forms

from curation.review.models import Decision


class ReviewForm(forms.Form):
    """The shapes of a decision posted from the review page; the rules (a rejection needs a
    reason or a note, an edit must change something) are the service's, one set for page
    and API."""

    decision = forms.ChoiceField(choices=Decision.choices)
    reasons = forms.MultipleChoiceField(required=False)
    note = forms.CharField(required=False, max_length=2000)
    # strip=False: the expert's text exactly as typed, so an unchanged field is not an edit
    edited_response = forms.CharField(required=False, strip=False)
    edited_prompt = forms.CharField(required=False, strip=False)

    def __init__(self, *args, reasons: dict[str, str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reasons"].choices = list(reasons.items())  # the campaign's own vocabulary


def seconds_spent(raw: str | None) -> float | None:
    """The page's measure of time on the item, or None when missing or implausible."""
    try:
        value = float(raw or "")
    except ValueError:
        return None
    return value if 0 <= value < 86400 else None  # NaN fails both comparisons
