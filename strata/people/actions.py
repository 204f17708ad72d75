"""Write and read paths for the people directory. Profiles are created here (the project uses no signals)."""

from functools import reduce
from operator import and_, or_

from django.contrib.auth import get_user_model
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
