"""Write and read paths for the people directory. Profiles are created here (the project uses no signals)."""

from functools import reduce
from operator import and_, or_

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Q, QuerySet

from .models import Profile

SEARCH_FIELDS = (
    "username",
    "first_name",
    "last_name",
    "email",
    "profile__title",
    "profile__department",
    "profile__phone",
)
# Bounds on what one search may ask of the database.
MAX_QUERY_LENGTH = 200
MAX_TERMS = 8


def update_contact_details(user, *, first_name, last_name, email, phone, fax, title, department) -> Profile:
    """Save the user's name and email and their profile together; create the profile if missing."""
    with transaction.atomic():
        user.first_name = first_name
        user.last_name = last_name
        user.email = email
        user.save(update_fields=["first_name", "last_name", "email"])
        profile, _created = Profile.objects.select_for_update().get_or_create(user=user)
        profile.phone = phone
        profile.fax = fax
        profile.title = title
        profile.department = department
        profile.save()
    # Keep the cached reverse relation in step with what was saved.
    user.profile = profile
    return profile


def _any_field_contains(term: str) -> Q:
    return reduce(or_, (Q(**{f"{field}__icontains": term}) for field in SEARCH_FIELDS))


def search_people(query: str = "") -> QuerySet:
    """Active users with their profiles (one query), each whitespace-separated term matching some field."""
    users = (
        get_user_model()
        .objects.filter(is_active=True)
        .select_related("profile")
        .order_by("last_name", "first_name", "username")
    )
    terms = (query or "")[:MAX_QUERY_LENGTH].split()[:MAX_TERMS]
    if terms:
        users = users.filter(reduce(and_, (_any_field_contains(term) for term in terms)))
    return users


# The pickers (/people/suggest.json): a few letters in, a short list out, from the database only.
SUGGEST_MIN = 2
SUGGEST_MAX_QUERY = 100
SUGGEST_LIMIT = 8
SUGGEST_MAX_LIMIT = 20
SUGGEST_FIELDS = ("username", "first_name", "last_name", "profile__department")
SUGGEST_KINDS = ("person", "group", "all")


class SuggestError(Exception):
    """A suggestion request that cannot be answered, with a message for the person."""


def suggest(
    user, query: str, kind: str = "all", limit: int = SUGGEST_LIMIT, mine: bool = False
) -> list[dict]:
    """Return people (active, name, username, department) and groups whose names match every term of QUERY
    (at least SUGGEST_MIN letters), at most LIMIT of each; MINE: only groups USER belongs to."""
    query = (query or "").strip()
    if len(query) < SUGGEST_MIN:
        raise SuggestError(f"Type at least {SUGGEST_MIN} letters.")
    if len(query) > SUGGEST_MAX_QUERY:
        raise SuggestError(f"Type at most {SUGGEST_MAX_QUERY} characters.")
    if kind not in SUGGEST_KINDS:
        raise SuggestError(f"kind must be one of {', '.join(SUGGEST_KINDS)}.")
    limit = max(1, min(limit, SUGGEST_MAX_LIMIT))
    terms = query.split()[:MAX_TERMS]
    out: list[dict] = []
    if kind in ("person", "all"):
        match = reduce(
            and_, (reduce(or_, (Q(**{f"{f}__icontains": t}) for f in SUGGEST_FIELDS)) for t in terms)
        )
        people = (
            get_user_model()
            .objects.filter(match, is_active=True)
            .exclude(pk=user.pk)
            .select_related("profile")
            .order_by("last_name", "first_name", "username")[:limit]
        )
        for p in people:
            profile = getattr(p, "profile", None)
            out.append(
                {
                    "kind": "person",
                    "username": p.get_username(),
                    "label": p.get_full_name() or p.get_username(),
                    "department": profile.department if profile else "",
                }
            )
    if kind in ("group", "all"):
        groups = Group.objects.filter(reduce(and_, (Q(name__icontains=t) for t in terms)))
        if mine:
            groups = groups.filter(pk__in=user.groups.values("pk"))
        out += [{"kind": "group", "name": g.name, "label": g.name} for g in groups.order_by("name")[:limit]]
    return out
