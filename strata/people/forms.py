from django import forms
from django.core.exceptions import ObjectDoesNotExist
from django.core.validators import RegexValidator

phone_validator = RegexValidator(
    r"^[0-9 +\-().,]*\Z",
    "Use only digits, spaces and + - ( ) . ,",
    code="invalid_phone",
)


class ContactDetailsForm(forms.Form):
    """The logged-in user's own contact details (User name/email plus Profile fields)."""

    first_name = forms.CharField(
        max_length=150, required=False, widget=forms.TextInput(attrs={"autocomplete": "given-name"})
    )
    last_name = forms.CharField(
        max_length=150, required=False, widget=forms.TextInput(attrs={"autocomplete": "family-name"})
    )
    email = forms.EmailField(
        max_length=254, required=False, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    title = forms.CharField(
        label="Job title",
        max_length=120,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "organization-title"}),
    )
    department = forms.CharField(max_length=120, required=False)
    phone = forms.CharField(
        max_length=40,
        required=False,
        validators=[phone_validator],
        help_text="Digits, spaces and + - ( ) . , only.",
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
    )
    fax = forms.CharField(
        max_length=40,
        required=False,
        validators=[phone_validator],
        help_text="Digits, spaces and + - ( ) . , only.",
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
    )

    @classmethod
    def initial_for(cls, user) -> dict:
        initial = {"first_name": user.first_name, "last_name": user.last_name, "email": user.email}
        try:
            profile = user.profile
        except ObjectDoesNotExist:
            return initial
        for name in ("phone", "fax", "title", "department"):
            initial[name] = getattr(profile, name)
        return initial
