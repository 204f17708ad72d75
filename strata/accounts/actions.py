"""Writes for accounts: mirror the directory into the database, end sessions, issue and revoke tokens.

Called by the login backend, the scheduled sync task, the CLI, the web admin and tests alike.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import ldap
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.sessions.models import Session
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from strata.ops import metrics
from strata.people.models import Profile

from . import lockout
from .ldap_link import bound, normalize_dn, site_tree, text
from .models import ApiToken, AttemptCounter, ServiceAccount

log = logging.getLogger("strata.accounts")

# Directory attribute -> (model, field) mirrored into the database.
USER_ATTRS = {"givenName": "first_name", "sn": "last_name", "mail": "email"}
PROFILE_ATTRS = {
    "telephoneNumber": "phone",
    "facsimileTelephoneNumber": "fax",
    "title": "title",
    "departmentNumber": "department",
}
PERSON_ATTRLIST = ["uid", *USER_ATTRS, *PROFILE_ATTRS, "memberOf", "shadowExpire"]
TOKEN_PREFIX = "strata_"  # noqa: S105 - the public prefix of every token, not a secret


def _limit(model, name: str, value: str) -> str:
    return value[: model._meta.get_field(name).max_length]


def is_disabled(attrs: dict) -> bool:
    """Whether a person's entry carries the disabled mark (shadowExpire in the past, set by disable)."""
    value = text(attrs, "shadowExpire")
    if not value:
        return False
    try:
        return int(value) * 86400 <= time.time()
    except ValueError:
        return True


def mirror_profile(user, attrs: dict) -> bool:
    """Copy a person's directory attributes into their profile; return True when something changed."""
    profile, created = Profile.objects.get_or_create(user=user)
    changed = created
    for attr, name in PROFILE_ATTRS.items():
        value = _limit(Profile, name, text(attrs, attr))
        if getattr(profile, name) != value:
            setattr(profile, name, value)
            changed = True
    if changed:
        profile.save()
    user.profile = profile
    return changed


def end_sessions(user_ids) -> int:
    """Delete every session of these users; return how many were ended."""
    wanted = {str(pk) for pk in user_ids}
    if not wanted:
        return 0
    doomed = [
        s.session_key
        for s in Session.objects.filter(expire_date__gt=timezone.now()).iterator()
        if s.get_decoded().get("_auth_user_id") in wanted
    ]
    Session.objects.filter(session_key__in=doomed).delete()
    return len(doomed)


def deactivate_users(users) -> int:
    """Mark USERS inactive with no usable password and end their sessions; return sessions ended."""
    ids = []
    for user in users:
        user.is_active = False
        user.set_unusable_password()
        user.save(update_fields=["is_active", "password"])
        ids.append(user.pk)
    return end_sessions(ids)


@dataclass
class SyncReport:
    people: int = 0
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)
    sessions_ended: int = 0
    groups: int = 0
    services: int = 0

    def summary(self) -> str:
        return (
            f"{self.people} people ({len(self.created)} new, {len(self.updated)} changed, "
            f"{len(self.deactivated)} deactivated, {self.sessions_ended} session(s) ended), "
            f"{self.groups} groups, {self.services} services"
        )


def read_directory() -> tuple[list, list, list]:
    """Read every person, group and service as the app's service account (three searches)."""
    t = site_tree()
    with bound("app") as conn:
        people = conn.search_s(t.people, ldap.SCOPE_ONELEVEL, "(objectClass=inetOrgPerson)", PERSON_ATTRLIST)
        groups = conn.search_s(t.groups, ldap.SCOPE_ONELEVEL, "(objectClass=groupOfNames)", ["cn", "member"])
        services = conn.search_s(
            t.services, ldap.SCOPE_ONELEVEL, "(uid=*)", ["uid", "description", "memberOf"]
        )
    return people, groups, services


def sync_directory() -> SyncReport:
    """Mirror people, groups, memberships and services from the directory into the database.

    Someone removed from a group loses it here; a disabled or deleted person is deactivated and their
    sessions end. The emergency admin (a local account) is never touched.
    """
    people, groups, services = read_directory()
    return apply_directory(people, groups, services)


def _group_names_by_member(groups) -> tuple[dict[str, set[str]], set[str]]:
    members: dict[str, set[str]] = {}
    names = set()
    for _dn, attrs in groups:
        name = text(attrs, "cn").lower()
        names.add(name)
        for member in attrs.get("member", []):
            dn = normalize_dn(member.decode())
            if dn:
                members.setdefault(dn, set()).add(name)
    return members, names


def _mirror_person(User, user, username: str, attrs) -> tuple[Any, bool, bool]:
    """Bring USER (None: a person new to the site) in line with the directory entry ATTRS and save it when
    anything changed; return the user, whether it was saved, and whether it must be deactivated."""
    disabled = is_disabled(attrs)
    if user is None:
        user = User(username=username, is_active=not disabled)
        user.set_unusable_password()
    changed = user.pk is None
    for attr, name in USER_ATTRS.items():
        value = _limit(User, name, text(attrs, attr))
        if getattr(user, name) != value:
            setattr(user, name, value)
            changed = True
    if user.has_usable_password():
        # A local password would let a directory person in without the directory.
        user.set_unusable_password()
        changed = True
    if not disabled and not user.is_active:
        user.is_active = True
        changed = True
    if changed:
        user.save()
    return user, changed, disabled and user.is_active


@transaction.atomic
def apply_directory(people, groups, services) -> SyncReport:
    User = get_user_model()
    report = SyncReport(people=len(people), groups=len(groups), services=len(services))
    emergency = settings.SITE["admin_username"]
    members, group_names = _group_names_by_member(groups)
    by_name = {g.name: g for g in Group.objects.filter(name__in=group_names)}
    for name in sorted(group_names - set(by_name)):
        by_name[name] = Group.objects.create(name=name)
    group_ids = {name: g.pk for name, g in by_name.items()}
    Membership = User.groups.through

    existing = {u.username: u for u in User.objects.select_related("profile")}
    current_groups: dict[int, set[int]] = {}
    for user_id, group_id in Membership.objects.values_list("user_id", "group_id"):
        current_groups.setdefault(user_id, set()).add(group_id)

    seen = set()
    to_deactivate = []
    for dn, attrs in people:
        username = text(attrs, "uid").lower()
        if not username or username == emergency:
            continue
        seen.add(username)
        created = username not in existing
        user, saved, deactivate = _mirror_person(User, existing.get(username), username, attrs)
        if deactivate:
            to_deactivate.append(user)
        profile_changed = mirror_profile(user, attrs)
        wanted = {group_ids[n] for n in members.get(normalize_dn(dn), ()) if n in group_ids}
        groups_changed = current_groups.get(user.pk, set()) != wanted
        if groups_changed:
            user.groups.set(wanted)
        if created:
            report.created.append(username)
        elif saved or profile_changed or groups_changed:
            report.updated.append(username)
    for username, user in existing.items():
        if username not in seen and username != emergency and user.is_active:
            to_deactivate.append(user)
    report.deactivated = sorted(u.username for u in to_deactivate)
    report.sessions_ended = deactivate_users(to_deactivate)
    _apply_services(services, members, group_ids)
    if report.created or report.updated or report.deactivated:
        log.info("directory sync: %s", report.summary())
    return report


def _apply_services(services, members, group_ids) -> None:
    now = timezone.now()
    seen = set()
    existing = {s.name: s for s in ServiceAccount.objects.prefetch_related("groups")}
    for dn, attrs in services:
        name = text(attrs, "uid").lower()
        seen.add(name)
        service = existing.get(name) or ServiceAccount(name=name)
        service.description = _limit(ServiceAccount, "description", text(attrs, "description"))
        service.is_active = True
        service.synced_at = now
        service.save()
        wanted = {group_ids[n] for n in members.get(normalize_dn(dn), ()) if n in group_ids}
        if {g.pk for g in service.groups.all()} != wanted:
            service.groups.set(wanted)
    ServiceAccount.objects.exclude(name__in=seen).filter(is_active=True).update(is_active=False)


# --- API tokens -------------------------------------------------------------------------------------


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(*, user=None, service=None, label: str = "") -> tuple[ApiToken, str]:
    """Create a token for one person or one service; return it and its secret (shown once, never stored)."""
    if (user is None) == (service is None):
        raise ValueError("a token belongs to exactly one person or one service")
    prefix = secrets.token_hex(4)
    token = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiToken.objects.create(
        prefix=prefix, digest=_digest(token), label=label[:100], user=user, service=service
    )
    return row, token


def revoke_token(token: ApiToken) -> bool:
    """Revoke TOKEN now; return False when it already was."""
    updated = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    return bool(updated)


def token_for(secret: str) -> ApiToken | None:
    """Return the live token row for SECRET (holder active), or None."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    row = (
        ApiToken.objects.select_related("user", "service")
        .filter(digest=_digest(secret), revoked_at__isnull=True)
        .first()
    )
    if row is None:
        return None
    holder = row.user or row.service
    holder_active = holder is not None and holder.is_active
    if not holder_active:
        return None
    now = timezone.now()
    # One write per token per minute at most, not one per API call.
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
    return row


# --- login and password-reset limits (the numbers and the rules: strata.accounts.lockout) ----------


def count_attempts(keys: list[tuple[str, str, str]], window: dt.timedelta, since_first: bool) -> dict:
    """Add one to each counter (kind, subject, address) in KEYS, in one upsert; a counter whose window
    is over (WINDOW after its first event if SINCE_FIRST, else after its last) starts again at 1.
    Return {kind: count after this event}."""
    now = timezone.now()
    table = connection.ops.quote_name(AttemptCounter._meta.db_table)
    column = "first_at" if since_first else "last_at"  # one of two fixed names, never input
    rows = ", ".join(["(%s, %s, %s, 1, %s, %s)"] * len(keys))
    # Only the table's and one of two column names are formatted in; every value is a parameter.
    sql = (
        f"INSERT INTO {table} (kind, subject, address, count, first_at, last_at) VALUES {rows} "  # noqa: S608
        f"ON CONFLICT (kind, subject, address) DO UPDATE SET "
        f"count = CASE WHEN {table}.{column} < %s THEN 1 ELSE {table}.count + 1 END, "
        f"first_at = CASE WHEN {table}.{column} < %s THEN EXCLUDED.first_at ELSE {table}.first_at END, "
        f"last_at = EXCLUDED.last_at RETURNING kind, count"
    )
    params: list[Any] = [v for key in keys for v in (*key, now, now)] + [now - window, now - window]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return dict(cursor.fetchall())


def login_wait(username: str, address: str) -> int:
    """Return the seconds a login of USERNAME from ADDRESS must still wait (0: it may try now)."""
    counters = AttemptCounter.objects.filter(
        Q(kind=AttemptCounter.LOGIN_PAIR, subject=username, address=address)
        | Q(kind=AttemptCounter.LOGIN_ADDRESS, subject="", address=address)
    )
    return lockout.wait_seconds(list(counters), timezone.now())


def record_login_failure(username: str, address: str) -> None:
    """Count a failed login of USERNAME from ADDRESS for the pair and for the address."""
    metrics.count_login_failure()
    count_attempts(
        [(AttemptCounter.LOGIN_PAIR, username, address), (AttemptCounter.LOGIN_ADDRESS, "", address)],
        lockout.FORGET,
        since_first=False,
    )


def record_login_success(username: str, address: str) -> None:
    """Forget the pair's failures (the address's stay: one valid account must not reset them)."""
    AttemptCounter.objects.filter(kind=AttemptCounter.LOGIN_PAIR, subject=username, address=address).delete()


def allow_reset_request(email: str, address: str) -> bool:
    """Count a password-reset request for EMAIL from ADDRESS; say whether it is within both limits."""
    counts = count_attempts(
        [
            (AttemptCounter.RESET_ADDRESS, "", address),
            (AttemptCounter.RESET_ACCOUNT, email.strip().lower(), ""),
        ],
        lockout.RESET_WINDOW,
        since_first=True,
    )
    return (
        counts[AttemptCounter.RESET_ADDRESS] <= lockout.RESET_PER_ADDRESS
        and counts[AttemptCounter.RESET_ACCOUNT] <= lockout.RESET_PER_ACCOUNT
    )


def unlock(username: str = "", address: str = "", everything: bool = False) -> int:
    """Clear the login limits of USERNAME (from every address, or from ADDRESS), of ADDRESS alone (its
    own counter and every pair from it), or EVERYTHING; return how many counters were removed."""
    logins = AttemptCounter.objects.filter(kind__in=[AttemptCounter.LOGIN_PAIR, AttemptCounter.LOGIN_ADDRESS])
    if everything:
        rows = logins
    elif username:
        rows = logins.filter(kind=AttemptCounter.LOGIN_PAIR, subject=username.strip().lower())
        if address:
            rows = logins.filter(Q(pk__in=rows.filter(address=address)) | Q(subject="", address=address))
    elif address:
        rows = logins.filter(address=address)
    else:
        raise ValueError("name a username, an address, or everything")
    return rows.delete()[0]


def clear_counters(rows) -> int:
    """Remove the counters ROWS (a queryset of AttemptCounter); return how many were removed."""
    return AttemptCounter.objects.filter(pk__in=list(rows.values_list("pk", flat=True))).delete()[0]


def own_token(user, token_id) -> ApiToken | None:
    """Return USER's live token TOKEN_ID, or None (someone else's, revoked, or not a number)."""
    try:
        return ApiToken.objects.filter(pk=int(token_id), user=user, revoked_at__isnull=True).first()
    except (TypeError, ValueError):
        return None
