from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator

from .csvimport import COLUMNS
from .validation import MAX_PASSWORD


class LoginForm(AuthenticationForm):
    """Django's login form; tells "the directory did not answer" apart from bad credentials (which get
    one message whether the user exists or not)."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "directory_unavailable": "The directory is unavailable, so you cannot log in right now. "
        "Please try again in a few minutes.",
    }

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self.fields["password"].validators.append(MaxLengthValidator(MAX_PASSWORD))

    @property
    def directory_unavailable(self) -> bool:
        return bool(getattr(self.request, "strata_directory_unavailable", False))

    def get_invalid_login_error(self):
        if self.directory_unavailable:
            return ValidationError(self.error_messages["directory_unavailable"], code="directory_unavailable")
        return super().get_invalid_login_error()


class NewUserForm(forms.Form):
    username = forms.CharField(max_length=64)
    password = forms.CharField(
        max_length=MAX_PASSWORD, widget=forms.PasswordInput(render_value=False), strip=False
    )
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    email = forms.CharField(max_length=254, required=False)


class PasswordForm(forms.Form):
    username = forms.CharField(max_length=64)
    password = forms.CharField(
        max_length=MAX_PASSWORD, widget=forms.PasswordInput(render_value=False), strip=False
    )


class UsernameForm(forms.Form):
    username = forms.CharField(max_length=64)


class GroupForm(forms.Form):
    group = forms.CharField(max_length=64)


class MembershipForm(forms.Form):
    # data-picker: picker.js suggests groups and people from two letters on (/people/suggest.json).
    group = forms.CharField(max_length=64, widget=forms.TextInput(attrs={"data-picker": "group"}))
    member = forms.CharField(
        max_length=64,
        help_text="a username or a service name",
        widget=forms.TextInput(attrs={"data-picker": "person"}),
    )


class ImportForm(forms.Form):
    file = forms.FileField(
        help_text="CSV with a header row: "
        + ", ".join(COLUMNS)
        + ". All rows are imported, or none when any row is bad."
    )


class AppPasswordForm(forms.Form):
    label = forms.CharField(max_length=100, help_text="What it is for, e.g. “laptop drive”.")
