"""`strata users|groups|services|tokens|domain ...`: argument parsing and output only; the work is in
strata.accounts.directory and strata.accounts.actions. Django is set up only when a command runs."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from strata.deploy import config as cfgmod

COMMANDS = ("users", "groups", "services", "tokens", "domain")


def add_parsers(sub) -> None:
    u = sub.add_parser("users", help="add people, set passwords, disable, import a CSV")
    us = u.add_subparsers(dest="action", required=True)
    add = us.add_parser("add", help="add a person (password read from a prompt or --password-stdin)")
    add.add_argument("username")
    for name in ("first-name", "last-name", "email", "phone", "fax", "title", "department"):
        add.add_argument(f"--{name}", default="")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    pw = us.add_parser("passwd", help="set a person's password")
    pw.add_argument("username")
    pw.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    us.add_parser("disable", help="disable a person and end their sessions").add_argument("username")
    ul = us.add_parser("unlock", help="clear the login limits of a person (or of an address, or all)")
    ul.add_argument("username", nargs="?", default="")
    ul.add_argument(
        "--address", default="", help="only the limits of USERNAME from this address, and its own"
    )
    ul.add_argument("--all", action="store_true", help="clear every login limit")
    imp = us.add_parser("import", help="import people from a CSV file (all rows or none)")
    imp.add_argument(
        "file",
        help="CSV with a header row: username,password[,first_name,last_name,email,"
        "phone,fax,title,department]",
    )

    g = sub.add_parser("groups", help="add groups and change their members")
    gs = g.add_subparsers(dest="action", required=True)
    gs.add_parser("add", help="add a group").add_argument("group")
    for verb, helptext in (
        ("add-member", "add a person or service to a group"),
        ("remove-member", "remove a person or service from a group"),
    ):
        p = gs.add_parser(verb, help=helptext)
        p.add_argument("group")
        p.add_argument("member")

    s = sub.add_parser("services", help="add service accounts (computers) for the JSON API")
    ss = s.add_subparsers(dest="action", required=True)
    sa = ss.add_parser("add", help="add a service account")
    sa.add_argument("name")
    sa.add_argument("--description", default="")
    sa.add_argument("--password-stdin", action="store_true", help="read the password from stdin")

    t = sub.add_parser("tokens", help="issue, list and revoke API tokens")
    ts = t.add_subparsers(dest="action", required=True)
    ti = ts.add_parser("issue", help="issue a token to a person or a service (printed once)")
    who = ti.add_mutually_exclusive_group(required=True)
    who.add_argument("--user")
    who.add_argument("--service")
    ti.add_argument("--label", default="")
    ts.add_parser("revoke", help="revoke a token by its prefix").add_argument("prefix")
    ts.add_parser("list", help="list tokens (prefix, holder, state)")

    d = sub.add_parser("domain", help="the directory: sync it into the database now")
    ds = d.add_subparsers(dest="action", required=True)
    ds.add_parser("sync", help="mirror people, groups and services from the directory now")


def _setup(args) -> cfgmod.Config:
    config = cfgmod.load(args.config)
    os.environ["DJANGO_SETTINGS_MODULE"] = "strata.site.settings"
    os.environ[cfgmod.ENV_CONFIG] = str(config.path)
    import django

    django.setup()
    return config


def _password(args, what: str = "Password") -> str:
    if getattr(args, "password_stdin", False):
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise _Bad("no terminal to ask for the password: pass --password-stdin and write it to stdin")
    first = getpass.getpass(f"{what}: ")
    if getpass.getpass(f"{what} (again): ") != first:
        raise _Bad("the two passwords differ")
    return first


class _Bad(Exception):
    pass


def _account() -> str:
    """Return the directory account the CLI writes with: the directory admin where its password is (one
    machine, the domain host), else the writer (people and groups), which is all an app host holds."""
    from django.conf import settings

    return "admin" if settings.SECRETS.get("ldap_admin_password") else "writer"


def _users(args, directory) -> str:
    account = _account()
    if args.action == "add":
        fields = {
            k: getattr(args, k)
            for k in ("first_name", "last_name", "email", "phone", "fax", "title", "department")
        }
        return directory.add_user(args.username, _password(args), account=account, **fields)
    if args.action == "passwd":
        return directory.set_password(args.username, _password(args, "New password"), account=account)
    if args.action == "disable":
        return directory.disable_user(args.username, account=account)
    if args.action == "unlock":
        return _unlock(args)
    path = Path(args.file)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise _Bad(f"{path}: cannot read: {exc}") from None
    return directory.import_users(text, str(path), account=account)


def _unlock(args) -> str:
    import ipaddress

    from strata.accounts import actions

    if not (args.username or args.address or args.all):
        raise _Bad("users unlock: name a USERNAME, an --address ADDR, or --all")
    if args.address:
        try:
            ipaddress.ip_address(args.address)
        except ValueError:
            raise _Bad(f"users unlock: --address {args.address!r} is not an IP address") from None
    count = actions.unlock(args.username, args.address, everything=args.all)
    return f"cleared {count} login limit(s)"


def _groups(args, directory) -> str:
    account = _account()
    if args.action == "add":
        return directory.add_group(args.group, account=account)
    if args.action == "add-member":
        return directory.add_member(args.group, args.member, account=account)
    return directory.remove_member(args.group, args.member, account=account)


def _tokens(args) -> str:
    from django.contrib.auth import get_user_model

    from strata.accounts import actions
    from strata.accounts.models import ApiToken, ServiceAccount

    if args.action == "issue":
        if args.user:
            user = get_user_model().objects.filter(username=args.user.lower(), is_active=True).first()
            if user is None:
                raise _Bad(f"unknown or disabled user {args.user!r}")
            _row, secret = actions.issue_token(user=user, label=args.label)
        else:
            service = ServiceAccount.objects.filter(name=args.service.lower(), is_active=True).first()
            if service is None:
                raise _Bad(f"unknown or disabled service {args.service!r} (run `strata domain sync`?)")
            _row, secret = actions.issue_token(service=service, label=args.label)
        return secret
    if args.action == "revoke":
        row = ApiToken.objects.filter(prefix=args.prefix.removeprefix(actions.TOKEN_PREFIX)[:12]).first()
        if row is None:
            raise _Bad(f"no token with prefix {args.prefix!r}")
        done = actions.revoke_token(row)
        return f"revoked token {row.prefix}" if done else f"token {row.prefix} was already revoked"
    rows = ApiToken.objects.select_related("user", "service")
    return (
        "\n".join(
            f"{r.prefix}  {r.holder_name}  {'revoked' if r.is_revoked else 'active'}  {r.label}" for r in rows
        )
        or "no tokens"
    )


def run(args: argparse.Namespace) -> int:
    """Run one accounts command; bad input exits 2, an unreachable directory 1."""
    config = _setup(args)
    from strata.accounts import actions, directory
    from strata.accounts.ldap_link import DirectoryUnavailable

    try:
        if args.command == "users":
            out = _users(args, directory)
        elif args.command == "groups":
            out = _groups(args, directory)
        elif args.command == "services":
            out = directory.add_service(
                args.name, _password(args) if config.enabled("domain") else "", args.description
            )
        elif args.command == "tokens":
            out = _tokens(args)
        else:
            if not config.enabled("domain"):
                raise _Bad(f"{config.path}: roles.domain: the domain role is off: nothing to sync")
            out = "synced " + actions.sync_directory().summary()
    except (directory.DirectoryError, _Bad) as exc:
        print(f"strata: {exc}", file=sys.stderr)
        return 2
    except DirectoryUnavailable as exc:
        print(f"strata: {exc}", file=sys.stderr)
        return 1
    print(out)
    return 0
