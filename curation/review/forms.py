from __future__ import annotations

from django import forms

from curation.review.models import Decision


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(choices=Decision.choices)
    reasons = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    note = forms.CharField(required=False, max_length=2000)
    edited_response = forms.CharField(required=False, widget=forms.Textarea)

    def __init__(self, *args, reasons: dict[str, str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reasons"].choices = list(reasons.items())  # the campaign's own vocabulary

    def clean(self):
        data = super().clean()
        if data.get("decision") == Decision.REJECT and not (data.get("reasons") or data.get("note")):
            raise forms.ValidationError("Say why you reject it: pick a reason or write a note.")
        if data.get("decision") == Decision.EDIT and not (data.get("edited_response") or "").strip():
            raise forms.ValidationError("An edit needs the edited response.")
        return data
