from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from strata.site.conditional import etag_page

from . import actions
from .forms import ContactDetailsForm

PAGE_SIZE = 50


def directory_managed(user) -> bool:
    """Whether USER's details come from the directory (domain role on, account not a local one)."""
    return settings.CONFIG.enabled("domain") and not user.has_usable_password()


@login_required
@require_safe
@etag_page
def directory(request):
    query = request.GET.get("q", "").strip()[: actions.MAX_QUERY_LENGTH]
    paginator = Paginator(actions.search_people(query), PAGE_SIZE)
    page_obj = paginator.get_page(request.GET.get("page"))
    return render(request, "people/directory.html", {"q": query, "page_obj": page_obj, "people": page_obj})


@require_safe
@never_cache
def suggest(request):
    """Suggest people and groups for a picker: ?q= (2+ letters), kind=person|group|all, limit, mine=1."""
    if not request.user.is_authenticated:
        return JsonResponse({"error": "Sign in first."}, status=401)
    raw_limit = request.GET.get("limit", "")
    limit = int(raw_limit) if raw_limit.isdigit() and len(raw_limit) < 4 else actions.SUGGEST_LIMIT
    try:
        found = actions.suggest(
            request.user,
            request.GET.get("q", ""),
            kind=request.GET.get("kind", "all"),
            limit=limit,
            mine=request.GET.get("mine") == "1",
        )
    except actions.SuggestError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse({"results": found})


@login_required
@require_safe
@etag_page
def person(request, username):
    users = get_user_model().objects.select_related("profile")
    found = get_object_or_404(users, is_active=True, **{get_user_model().USERNAME_FIELD: username})
    return render(
        request,
        "people/person.html",
        {
            "person": found,
            "profile": getattr(found, "profile", None),
            "is_me": found.pk == request.user.pk,
        },
    )


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def profile_edit(request):
    user = request.user
    if directory_managed(user):
        # The directory is the source of these details: an edit here would be undone at the next sync.
        return render(request, "people/profile_managed.html", status=403 if request.method == "POST" else 200)
    if request.method == "POST":
        form = ContactDetailsForm(request.POST)
        if form.is_valid():
            actions.update_contact_details(user, **form.cleaned_data)
            messages.success(request, "Your contact details were saved.")
            return redirect("people:person", username=user.get_username())
        return render(request, "people/profile_edit.html", {"form": form}, status=400)
    form = ContactDetailsForm(initial=ContactDetailsForm.initial_for(user))
    return render(request, "people/profile_edit.html", {"form": form})
