"""Accounts in-process: input validation, the CSV import (all or nothing), local directory and tokens."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User

from strata.accounts import actions, directory
from strata.accounts.csvimport import parse_users_csv
from strata.accounts.validation import InvalidInput, check_name

pytestmark = pytest.mark.django_db
PW = "correct horse battery {}"


@pytest.mark.parametrize("name", ["a*b", "(uid=*)", "", "x" * 200, "nul\x00", "a b"])
def test_bad_usernames_are_refused(name):
    with pytest.raises(InvalidInput):
        check_name(name)


def test_csv_rows_are_checked_and_named_by_line():
    rows, errors = parse_users_csv("username,password,department\nann,pw-ann-long-1,Sales\n")
    assert errors == []
    assert rows[0].username == "ann"
    assert rows[0].fields["department"] == "Sales"
    _rows, errors = parse_users_csv("username,password\nbo,aaaaaaaa1\nbo,bbbbbbbb2\n")
    assert errors == ["row 3: duplicate username 'bo' (also row 2)"]
    assert "missing column(s) password" in parse_users_csv("username\nann\n")[1][0]
    assert "unknown column(s) shoe" in parse_users_csv("username,password,shoe\n")[1][0]
    assert parse_users_csv("")[1] == ["the file is empty (a header row is required)"]
    assert parse_users_csv("username,password\nann\n")[1] == ["row 2: expected 2 fields, got 1"]


def test_import_is_all_or_nothing_and_adds_profiles():
    with pytest.raises(directory.DirectoryError, match="row 3"):
        directory.import_users(f"username,password\nfb-ok,{PW.format('ok')}\nfb-weak,123\n")
    assert not User.objects.filter(username__startswith="fb-").exists()
    csv = f"username,password,department\nfb-ann,{PW.format('ann')},Ops\nfb-bo,{PW.format('bo')},Sales\n"
    assert directory.import_users(csv) == "imported 2 user(s)"
    ann = User.objects.select_related("profile").get(username="fb-ann")
    assert ann.check_password(PW.format("ann"))
    assert ann.profile.department == "Ops"
    with pytest.raises(directory.DirectoryError, match="already exists"):
        directory.import_users(csv)


def test_local_directory_users_groups_and_disable():
    assert directory.add_user("fb-cy", PW.format("cy"), department="Ops") == "added user fb-cy"
    with pytest.raises(directory.DirectoryError, match="too weak"):
        directory.add_user("fb-weak", "123")
    assert directory.add_group("fb-team") == "added group fb-team"
    assert directory.add_member("fb-team", "fb-cy") == "added fb-cy to fb-team"
    assert list(User.objects.get(username="fb-cy").groups.values_list("name", flat=True)) == ["fb-team"]
    with pytest.raises(directory.DirectoryError, match="unknown group 'no-such-group'"):
        directory.add_member("no-such-group", "fb-cy")
    assert directory.remove_member("fb-team", "fb-cy") == "removed fb-cy from fb-team"
    assert directory.disable_user("fb-cy") == "disabled fb-cy; ended 0 session(s)"
    assert User.objects.get(username="fb-cy").is_active is False
    assert Group.objects.filter(name="fb-team").exists()


def test_tokens_issue_authenticate_and_revoke(people):
    row, secret = actions.issue_token(user=people["alice"], label="t")
    assert secret.startswith(actions.TOKEN_PREFIX)
    assert row.digest not in secret
    assert actions.token_for(secret) == row
    assert actions.token_for("strata_nope") is None
    assert actions.token_for("other") is None
    with pytest.raises(ValueError, match="exactly one"):
        actions.issue_token()
    assert actions.revoke_token(row) is True
    assert actions.revoke_token(row) is False
    assert actions.token_for(secret) is None
    _row, other = actions.issue_token(user=people["bob"])
    people["bob"].is_active = False
    people["bob"].save()
    assert actions.token_for(other) is None
