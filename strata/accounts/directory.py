"""Manage people, groups and service accounts: in the directory (slapd) when the domain role is on, in
Django's own accounts when it is off. The same functions, the same answers, for the CLI and the web admin.

Bad input raises DirectoryError (the CLI exits 2, the web answers 400) and changes nothing.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import ldap
import ldap.modlist
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction

from . import actions
from .csvimport import parse_users_csv
from .ldap_link import DirectoryUnavailable, bound, domain_enabled, normalize_dn, site_tree
from .models import ServiceAccount
from .validation import InvalidInput, check_name, check_password_shape, check_person_fields

__all__ = [
    "DirectoryError",
    "DirectoryUnavailable",
    "add_user",
    "set_password",
    "disable_user",
    "import_users",
    "add_group",
    "add_member",
    "remove_member",
    "add_service",
]


class DirectoryError(ValueError):
    """Bad input for the directory, described in one line; nothing was changed."""


@dataclass(frozen=True)
class NewPerson:
    username: str
    password: str
    fields: dict


def _check_password(password: str, username: str = "") -> str:
    try:
        check_password_shape(password)
        password_validation.validate_password(password, get_user_model()(username=username))
    except InvalidInput as exc:
        raise DirectoryError(str(exc)) from None
    except ValidationError as exc:
        raise DirectoryError("the password is too weak: " + " ".join(exc.messages)) from None
    return password


def _name(value: str, what: str) -> str:
    try:
        return check_name(value, what)
    except InvalidInput as exc:
        raise DirectoryError(str(exc)) from None


# --- the two implementations -----------------------------------------------------------------------


class LocalDirectory:
    """Django's own accounts (domain role off)."""

    def person_exists(self, username: str) -> bool:
        return get_user_model().objects.filter(username=username).exists()

    def group_exists(self, name: str) -> bool:
        return Group.objects.filter(name=name).exists()

    @transaction.atomic
    def add_people(self, people: list[NewPerson]) -> None:
        from strata.people.actions import update_contact_details

        User = get_user_model()
        for p in people:
            user = User.objects.create_user(p.username, password=p.password)
            update_contact_details(user, **p.fields)

    @transaction.atomic
    def change_password(self, username: str, password: str) -> None:
        user = get_user_model().objects.select_for_update().get(username=username)
        user.set_password(password)
        user.save(update_fields=["password"])

    @transaction.atomic
    def disable(self, username: str) -> int:
        user = get_user_model().objects.select_for_update().get(username=username)
        return actions.deactivate_users([user])

    def add_group(self, name: str) -> None:
        Group.objects.create(name=name)

    def _member(self, name: str):
        user = get_user_model().objects.filter(username=name).first()
        if user is not None:
            return user.groups
        service = ServiceAccount.objects.filter(name=name).first()
        return service.groups if service is not None else None

    def member_exists(self, name: str) -> bool:
        return self._member(name) is not None

    def set_member(self, group: str, name: str, present: bool) -> None:
        relation = self._member(name)
        g = Group.objects.get(name=group)
        (relation.add if present else relation.remove)(g)

    def add_service(self, name: str, password: str, description: str) -> None:
        ServiceAccount.objects.create(name=name, description=description)


class LdapDirectory:
    """The site's slapd, written as ACCOUNT ("admin" from the CLI, "writer" from the web admin), then
    mirrored into the database at once."""

    def __init__(self, account: str):
        self.account = account
        self.tree = site_tree()

    @contextlib.contextmanager
    def _conn(self):
        with bound(self.account) as conn:
            yield conn

    def _exists(self, dn: str) -> bool:
        with self._conn() as conn:
            try:
                conn.search_s(dn, ldap.SCOPE_BASE, "(objectClass=*)", ["1.1"])
            except ldap.NO_SUCH_OBJECT:
                return False
        return True

    def person_exists(self, username: str) -> bool:
        return self._exists(self.tree.person(username))

    def group_exists(self, name: str) -> bool:
        return self._exists(self.tree.group(name))

    def _person_entry(self, p: NewPerson) -> dict:
        f = p.fields
        full = " ".join(x for x in (f.get("first_name"), f.get("last_name")) if x) or p.username
        attrs = {
            "objectClass": ["inetOrgPerson"],
            "uid": [p.username],
            "cn": [full],
            "sn": [f.get("last_name") or p.username],
        }
        for key, attr in (
            ("first_name", "givenName"),
            ("email", "mail"),
            ("phone", "telephoneNumber"),
            ("fax", "facsimileTelephoneNumber"),
            ("title", "title"),
            ("department", "departmentNumber"),
        ):
            if f.get(key):
                attrs[attr] = [f[key]]
        return {k: [v.encode() for v in vs] for k, vs in attrs.items()}

    def add_people(self, people: list[NewPerson]) -> None:
        added = []
        with self._conn() as conn:
            try:
                for p in people:
                    dn = self.tree.person(p.username)
                    conn.add_s(dn, ldap.modlist.addModlist(self._person_entry(p)))
                    added.append(dn)
                    conn.passwd_s(dn, None, p.password)
            except ldap.LDAPError:
                # Nothing half-written: take back what this call added.
                for dn in added:
                    with contextlib.suppress(ldap.LDAPError):
                        conn.delete_s(dn)
                raise
        actions.sync_directory()

    def change_password(self, username: str, password: str) -> None:
        with self._conn() as conn:
            conn.passwd_s(self.tree.person(username), None, password)

    def disable(self, username: str) -> int:
        dn = self.tree.person(username)
        with self._conn() as conn:
            _dn, attrs = conn.search_s(dn, ldap.SCOPE_BASE, "(objectClass=*)", ["objectClass"])[0]
            classes = {c.decode().lower() for c in attrs.get("objectClass", [])}
            mods = [] if "shadowaccount" in classes else [(ldap.MOD_ADD, "objectClass", [b"shadowAccount"])]
            # shadowExpire=1 (a day in 1970): the mark sync and login read; without a password no bind works.
            mods.append((ldap.MOD_REPLACE, "shadowExpire", [b"1"]))
            conn.modify_s(dn, mods)
            with contextlib.suppress(ldap.NO_SUCH_ATTRIBUTE):
                conn.modify_s(dn, [(ldap.MOD_DELETE, "userPassword", None)])
        User = get_user_model()
        with transaction.atomic():
            users = list(User.objects.select_for_update().filter(username=username, is_active=True))
            return actions.deactivate_users(users)

    def add_group(self, name: str) -> None:
        # groupOfNames needs a member: the empty DN stands in while the group has no one.
        entry = {"objectClass": [b"groupOfNames"], "cn": [name.encode()], "member": [b""]}
        with self._conn() as conn:
            conn.add_s(self.tree.group(name), ldap.modlist.addModlist(entry))
        actions.sync_directory()

    def _member_dn(self, name: str) -> str | None:
        for dn in (self.tree.person(name), self.tree.service(name)):
            with contextlib.suppress(ldap.INSUFFICIENT_ACCESS):
                if self._exists(dn):
                    return dn
        return None

    def member_exists(self, name: str) -> bool:
        return self._member_dn(name) is not None

    def set_member(self, group: str, name: str, present: bool) -> None:
        member = self._member_dn(name)
        if member is None:
            raise DirectoryError(f"no person or service account called {name!r}")
        gdn = self.tree.group(group)
        with self._conn() as conn:
            _dn, attrs = conn.search_s(gdn, ldap.SCOPE_BASE, "(objectClass=*)", ["member"])[0]
            current = {normalize_dn(m.decode()) for m in attrs.get("member", [])}
            if present and normalize_dn(member) not in current:
                conn.modify_s(gdn, [(ldap.MOD_ADD, "member", [member.encode()])])
            elif not present and normalize_dn(member) in current:
                conn.modify_s(gdn, [(ldap.MOD_DELETE, "member", [member.encode()])])
        actions.sync_directory()

    def add_service(self, name: str, password: str, description: str) -> None:
        dn = self.tree.service(name)
        entry = {
            "objectClass": [b"account", b"simpleSecurityObject"],
            "uid": [name.encode()],
            "userPassword": [b"!"],
        }
        if description:
            entry["description"] = [description.encode()]
        with self._conn() as conn:
            conn.add_s(dn, ldap.modlist.addModlist(entry))
            try:
                conn.passwd_s(dn, None, password)
            except ldap.LDAPError:
                with contextlib.suppress(ldap.LDAPError):
                    conn.delete_s(dn)
                raise
        actions.sync_directory()


def get_directory(account: str = "admin"):
    """Return the directory to write: slapd as ACCOUNT when the domain role is on, else the database."""
    return LdapDirectory(account) if domain_enabled() else LocalDirectory()


# --- the operations (same answers whichever directory is in use) --------------------------------------


def _require_person(d, username: str) -> None:
    if not d.person_exists(username):
        raise DirectoryError(f"unknown user {username!r}")


def _require_group(d, name: str) -> None:
    if not d.group_exists(name):
        raise DirectoryError(f"unknown group {name!r}")


def add_user(username: str, password: str, *, account: str = "admin", **fields) -> str:
    username = _name(username, "username")
    _check_password(password, username)
    try:
        fields = check_person_fields(fields)
    except InvalidInput as exc:
        raise DirectoryError(str(exc)) from None
    d = get_directory(account)
    if d.person_exists(username):
        raise DirectoryError(f"user {username!r} already exists")
    d.add_people([NewPerson(username, password, fields)])
    return f"added user {username}"


def set_password(username: str, password: str, *, account: str = "admin") -> str:
    username = _name(username, "username")
    _check_password(password, username)
    d = get_directory(account)
    _require_person(d, username)
    d.change_password(username, password)
    return f"set the password of {username}"


def disable_user(username: str, *, account: str = "admin") -> str:
    username = _name(username, "username")
    d = get_directory(account)
    _require_person(d, username)
    ended = d.disable(username)
    return f"disabled {username}; ended {ended} session(s)"


def import_users(text: str, source: str = "the file", *, account: str = "admin") -> str:
    """Import every row of a users CSV, or none when any row is bad (rows named by line number)."""
    rows, errors = parse_users_csv(text)
    d = get_directory(account)
    if not errors:
        for row in rows:
            try:
                _check_password(row.password, row.username)
            except DirectoryError as exc:
                errors.append(f"row {row.line}: {exc}")
                continue
            if d.person_exists(row.username):
                errors.append(f"row {row.line}: user {row.username!r} already exists")
    if errors:
        raise DirectoryError(
            f"{source}: nothing imported; "
            + "; ".join(errors[:20])
            + (f"; and {len(errors) - 20} more" if len(errors) > 20 else "")
        )
    if not rows:
        raise DirectoryError(f"{source}: no rows to import")
    d.add_people([NewPerson(r.username, r.password, r.fields) for r in rows])
    return f"imported {len(rows)} user(s)"


def add_group(name: str, *, account: str = "admin") -> str:
    name = _name(name, "group name")
    d = get_directory(account)
    if d.group_exists(name):
        raise DirectoryError(f"group {name!r} already exists")
    d.add_group(name)
    return f"added group {name}"


def _membership(group: str, name: str, present: bool, account: str) -> str:
    group = _name(group, "group name")
    name = _name(name, "member name")
    d = get_directory(account)
    _require_group(d, group)
    if not d.member_exists(name):
        raise DirectoryError(f"unknown user or service {name!r}")
    d.set_member(group, name, present)
    return f"added {name} to {group}" if present else f"removed {name} from {group}"


def add_member(group: str, name: str, *, account: str = "admin") -> str:
    return _membership(group, name, True, account)


def remove_member(group: str, name: str, *, account: str = "admin") -> str:
    return _membership(group, name, False, account)


def add_service(name: str, password: str, description: str = "", *, account: str = "admin") -> str:
    name = _name(name, "service name")
    if len(description) > 200 or any(ord(c) < 32 for c in description):
        raise DirectoryError("the description must be one line of at most 200 characters")
    d = get_directory(account)
    if domain_enabled():
        _check_password(password, name)
    if ServiceAccount.objects.filter(name=name).exists() or d.member_exists(name):
        raise DirectoryError(f"{name!r} already exists")
    d.add_service(name, password, description)
    return f"added service {name}"
