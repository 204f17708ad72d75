from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_http_methods

from . import actions, directory, forms, lockout
from .ldap_link import DirectoryUnavailable, domain_enabled


def too_many(request, wait: int, what: str = "login"):
    """Return the 429 page: too many failed logins from here, try again in WAIT seconds."""
    minutes, seconds = divmod(wait, 60)
    when = f"{minutes} min {seconds} s" if minutes else f"{seconds} s"
    response = render(request, "accounts/locked_out.html", {"wait": wait, "when": when}, status=429)
    response["Retry-After"] = str(wait)
    return response


class LoginView(auth_views.LoginView):
    """Django's login, limited per (username, address) pair and per address (strata.accounts.lockout)."""

    form_class = forms.LoginForm
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        self.attempt = (lockout.username(request), lockout.address(request))
        wait = actions.login_wait(*self.attempt)
        if wait:
            return too_many(request, wait)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        actions.record_login_success(*self.attempt)
        return super().form_valid(form)

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.directory_unavailable:
            response.status_code = 503  # the directory's fault, not a wrong password: not counted
        elif self.request.method == "POST":
            actions.record_login_failure(*self.attempt)
        return response


def _superuser(user) -> None:
    if not user.is_superuser:
        raise PermissionDenied


# Each operation: its form and how it calls the directory (as the write-limited "writer" account).
OPERATIONS = {
    "add_user": (
        forms.NewUserForm,
        lambda d, f: directory.add_user(
            d["username"],
            d["password"],
            first_name=d["first_name"],
            last_name=d["last_name"],
            email=d["email"],
            account="writer",
        ),
    ),
    "set_password": (
        forms.PasswordForm,
        lambda d, f: directory.set_password(d["username"], d["password"], account="writer"),
    ),
    "disable_user": (
        forms.UsernameForm,
        lambda d, f: directory.disable_user(d["username"], account="writer"),
    ),
    "import_users": (
        forms.ImportForm,
        lambda d, f: directory.import_users(_read_upload(d["file"]), d["file"].name[:100], account="writer"),
    ),
    "add_group": (forms.GroupForm, lambda d, f: directory.add_group(d["group"], account="writer")),
    "add_member": (
        forms.MembershipForm,
        lambda d, f: directory.add_member(d["group"], d["member"], account="writer"),
    ),
    "remove_member": (
        forms.MembershipForm,
        lambda d, f: directory.remove_member(d["group"], d["member"], account="writer"),
    ),
}


def _read_upload(upload) -> str:
    from .csvimport import MAX_BYTES

    if upload.size > MAX_BYTES:
        raise directory.DirectoryError(f"the file is larger than {MAX_BYTES // (1024 * 1024)} MiB")
    try:
        return upload.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise directory.DirectoryError("the file is not UTF-8 text") from None


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def manage_directory(request):
    """Let admins add people, set passwords, disable people, import a CSV and manage groups."""
    _superuser(request.user)
    status, error = 200, ""
    bound_forms = {}
    if request.method == "POST":
        op = request.POST.get("op", "")
        if op not in OPERATIONS:
            status, error = 400, "Unknown operation."
        else:
            form_class, call = OPERATIONS[op]
            form = form_class(request.POST, request.FILES, prefix=op)
            bound_forms[op] = form
            if form.is_valid():
                try:
                    messages.success(request, call(form.cleaned_data, form))
                    return redirect("accounts:directory")
                except directory.DirectoryError as exc:
                    status, error = 400, str(exc)
                except DirectoryUnavailable as exc:
                    status, error = 503, f"Nothing was changed: {exc}."
            else:
                status, error = 400, "Please correct the fields below."
    sections = [
        (op, op.replace("_", " ").capitalize(), bound_forms.get(op) or form_class(prefix=op))
        for op, (form_class, _call) in OPERATIONS.items()
    ]
    return render(
        request,
        "accounts/directory.html",
        {"sections": sections, "error": error, "domain_on": domain_enabled()},
        status=status,
    )


# --- password reset (accounts held in the database; mailed through the comms role) -------------------


class PasswordResetView(auth_views.PasswordResetView):
    """Mail a reset link to accounts held in the database; without a comms server, say to ask an admin."""

    template_name = "accounts/password_reset_form.html"
    email_template_name = "accounts/password_reset_email.txt"
    subject_template_name = "accounts/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")

    def dispatch(self, request, *args, **kwargs):
        if not settings.STRATA_COMMS:
            return render(
                request,
                "accounts/password_reset_unavailable.html",
                status=200 if request.method in ("GET", "HEAD") else 400,
            )
        self.extra_email_context = {"strata_site_name": settings.SITE["name"]}
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form):
        # Over a limit: the same neutral "sent" page, no mail (the answer tells nothing about accounts).
        if not actions.allow_reset_request(form.cleaned_data["email"], lockout.address(self.request)):
            return HttpResponseRedirect(self.get_success_url())
        return super().form_valid(form)


password_reset = PasswordResetView.as_view()
password_reset_done = auth_views.PasswordResetDoneView.as_view(
    template_name="accounts/password_reset_done.html"
)
password_reset_confirm = auth_views.PasswordResetConfirmView.as_view(
    template_name="accounts/password_reset_confirm.html",
    success_url=reverse_lazy("accounts:password_reset_complete"),
)
password_reset_complete = auth_views.PasswordResetCompleteView.as_view(
    template_name="accounts/password_reset_complete.html"
)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def app_passwords(request):
    """List the person's app passwords (for the network drive and the API); create one (its secret is
    shown once, only a digest is kept) or revoke one."""
    status, created, error = 200, "", ""
    if request.method == "POST":
        if "revoke" in request.POST:
            token = actions.own_token(request.user, request.POST.get("revoke", ""))
            if token is None:
                status, error = 404, "No such app password."
            else:
                actions.revoke_token(token)
                messages.success(request, f"App password “{token.label or token.prefix}” revoked.")
                return redirect("accounts:app_passwords")
        else:
            form = forms.AppPasswordForm(request.POST)
            if form.is_valid():
                _row, created = actions.issue_token(user=request.user, label=form.cleaned_data["label"])
            else:
                status, error = 400, " ".join(str(e) for errs in form.errors.values() for e in errs)
    tokens = request.user.api_tokens.filter(revoked_at__isnull=True).order_by("-created_at")
    return render(
        request,
        "accounts/app_passwords.html",
        {"tokens": tokens, "created": created, "error": error, "dav_url": f"{settings.STRATA_SITE_URL}/dav/"},
        status=status,
    )
