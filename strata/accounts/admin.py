from django import forms
from django.contrib import admin, messages

from . import actions
from .models import ApiToken, AttemptCounter, ServiceAccount


@admin.register(ServiceAccount)
class ServiceAccountAdmin(admin.ModelAdmin):
    list_display = ("name", "description", "is_active", "synced_at")
    list_filter = ("is_active",)
    search_fields = ("name", "description")
    filter_horizontal = ("groups",)


class IssueTokenForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ("label", "user", "service")

    def clean(self):
        data = super().clean() or {}
        if bool(data.get("user")) == bool(data.get("service")):
            raise forms.ValidationError("Choose either a person or a service.")
        return data


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "label", "holder_name", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("prefix", "label", "user__username", "service__name")
    list_select_related = ("user", "service")
    raw_id_fields = ("user",)
    actions = ["revoke"]
    form = IssueTokenForm

    def has_change_permission(self, request, obj=None):
        # A token is issued or revoked, never edited.
        return False

    def save_model(self, request, obj, form, change):
        row, secret = actions.issue_token(
            user=form.cleaned_data.get("user"),
            service=form.cleaned_data.get("service"),
            label=form.cleaned_data.get("label", ""),
        )
        obj.pk = row.pk
        messages.warning(request, f"Token for {row.holder_name} (shown once, copy it now): {secret}")

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        count = sum(actions.revoke_token(t) for t in queryset)
        messages.success(request, f"Revoked {count} token(s).")


@admin.register(AttemptCounter)
class AttemptCounterAdmin(admin.ModelAdmin):
    """The lock list: failed logins and password-reset requests being counted (strata.accounts.lockout)."""

    list_display = ("kind", "subject", "address", "count", "first_at", "last_at")
    list_filter = ("kind",)
    search_fields = ("subject", "address")
    actions = ["clear"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Clear the selected limits")
    def clear(self, request, queryset):
        count = actions.clear_counters(queryset)
        messages.success(request, f"Cleared {count} limit(s).")
