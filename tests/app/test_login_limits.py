"""Login limits per (username, address) pair and per address, and password-reset limits
(strata.accounts.lockout): nobody can lock someone else out, guessing slows down, admins lift it."""

from __future__ import annotations

import argparse
import datetime as dt

import pytest
from django.test import Client

from strata.accounts import actions, lockout
from strata.accounts.models import AttemptCounter

pytestmark = pytest.mark.django_db
A, B = "192.0.2.1", "198.51.100.7"
LOGIN = "/accounts/login/"


def attempt(username: str, password: str, address: str = A):
    return Client(REMOTE_ADDR=address).post(LOGIN, {"username": username, "password": password})


def logged_in(resp) -> bool:
    return resp.status_code == 302 and "/accounts/login/" not in resp["Location"]


def age(kind: str, seconds: float) -> None:
    """Move the last failure of KIND counters SECONDS into the past (time passing, without waiting)."""
    for c in AttemptCounter.objects.filter(kind=kind):
        c.last_at -= dt.timedelta(seconds=seconds)
        c.save(update_fields=["last_at"])


def test_made_up_usernames_from_an_address_do_not_stop_a_real_password_from_it(people):
    for i in range(9):
        resp = attempt(f"nobody{i}", "guess")
        assert resp.status_code == 200
        assert "correct username and password" in resp.content.decode()
    assert AttemptCounter.objects.get(kind=AttemptCounter.LOGIN_ADDRESS, address=A).count == 9
    assert logged_in(attempt("alice", "pw-alice"))


def test_odd_usernames_are_counted_not_a_server_error(people):
    for name in ("ali\x00ce", "x" * 5000, ""):
        assert attempt(name, "pw-alice").status_code == 200
    assert AttemptCounter.objects.get(kind=AttemptCounter.LOGIN_ADDRESS).count == 3


def test_failures_for_alice_from_a_do_not_stop_alice_from_b(people):
    for _ in range(7):
        age(AttemptCounter.LOGIN_PAIR, lockout.CAP)  # let each try through: count every failure
        assert attempt("alice", "wrong").status_code == 200
    assert attempt("alice", "pw-alice").status_code == 429
    assert logged_in(attempt("alice", "pw-alice", address=B))
    assert logged_in(attempt("bob", "pw-bob"))  # another account from A


def test_the_pair_waits_longer_after_each_failure_with_429_and_retry_after(people):
    for _ in range(lockout.PAIR_FREE - 1):
        assert attempt("alice", "wrong").status_code == 200
    waits = []
    for _ in range(4):
        assert attempt("alice", "wrong").status_code == 200  # counted: the pair must now wait
        refused = attempt("alice", "pw-alice")  # even the right password, from this pair
        assert refused.status_code == 429
        assert "Too many failed logins" in refused.content.decode()
        waits.append(int(refused["Retry-After"]))
        age(AttemptCounter.LOGIN_PAIR, waits[-1])
    assert waits == [1, 2, 4, 8]
    assert logged_in(attempt("alice", "pw-alice"))  # waited: the right password gets in and clears the pair
    assert not AttemptCounter.objects.filter(kind=AttemptCounter.LOGIN_PAIR).exists()


def test_the_wait_is_capped_and_a_refused_try_is_not_counted(people):
    AttemptCounter.objects.create(
        kind=AttemptCounter.LOGIN_PAIR, subject="alice", address=A, count=40,
        first_at=dt.datetime.now(dt.UTC), last_at=dt.datetime.now(dt.UTC),
    )  # fmt: skip
    resp = attempt("alice", "wrong")
    assert resp.status_code == 429
    assert lockout.CAP - 2 <= int(resp["Retry-After"]) <= lockout.CAP
    assert AttemptCounter.objects.get(kind=AttemptCounter.LOGIN_PAIR).count == 40


def test_an_address_spraying_many_usernames_waits_for_all_of_them(people):
    for i in range(lockout.ADDRESS_FREE):
        attempt(f"user{i}", "Summer2026!")
    resp = attempt("alice", "pw-alice")
    assert resp.status_code == 429
    assert int(resp["Retry-After"]) == 1
    assert logged_in(attempt("alice", "pw-alice", address=B))


def test_unlock_clears_a_pair_and_an_address(people):
    for _ in range(lockout.PAIR_FREE):
        attempt("alice", "wrong")
    assert attempt("alice", "pw-alice").status_code == 429
    assert actions.unlock("Alice", A) == 2  # the pair and the address's own counter
    assert logged_in(attempt("alice", "pw-alice"))
    for _ in range(lockout.PAIR_FREE):
        attempt("bob", "wrong")
    assert actions.unlock(address=A) == 2  # bob's pair from A and A's own counter
    assert logged_in(attempt("bob", "pw-bob"))
    with pytest.raises(ValueError, match="name a username"):
        actions.unlock()


def test_the_admin_lists_and_clears_the_limits(people):
    for _ in range(lockout.PAIR_FREE):
        attempt("bob", "wrong")
    admin = Client()
    admin.force_login(type(people["alice"]).objects.create_superuser("root", "r@example.org", "pw-root"))
    page = admin.get("/admin/accounts/attemptcounter/")
    assert page.status_code == 200
    assert "bob" in page.content.decode()
    ids = [str(pk) for pk in AttemptCounter.objects.values_list("pk", flat=True)]
    resp = admin.post(
        "/admin/accounts/attemptcounter/", {"action": "clear", "_selected_action": ids}, follow=True
    )
    assert "Cleared 2 limit(s)." in resp.content.decode()
    assert not AttemptCounter.objects.exists()


def test_the_admin_login_form_goes_through_the_limited_login():
    resp = Client().get("/admin/login/?next=/admin/")
    assert resp.status_code == 302
    assert resp["Location"] == "/accounts/login/?next=/admin/"


@pytest.fixture
def mail_on(settings, mailoutbox):
    settings.STRATA_COMMS = {"from_address": "strata@example.org"}
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return mailoutbox


def reset(email: str, address: str = A):
    return Client(REMOTE_ADDR=address).post("/accounts/password/reset/", {"email": email})


def test_reset_requests_are_limited_per_account_with_the_same_neutral_answer(people, mail_on):
    answers = [reset("alice@example.org", address=f"192.0.2.{i}") for i in range(1, 6)]
    assert {r.status_code for r in answers} == {302}
    assert {r["Location"] for r in answers} == {"/accounts/password/reset/sent/"}
    assert len(mail_on) == lockout.RESET_PER_ACCOUNT
    assert reset("bob@example.org", address=B).status_code == 302  # another account: its own limit
    assert len(mail_on) == lockout.RESET_PER_ACCOUNT + 1


def test_reset_requests_are_limited_per_address(people, mail_on):
    for name in ("alice", "bob", "carol", "x", "y"):
        assert reset(f"{name}@example.org").status_code == 302
    assert len(mail_on) == 3  # the made-up addresses get the same answer and no mail
    over = reset("alice@example.org")
    assert over.status_code == 302
    assert over["Location"] == "/accounts/password/reset/sent/"
    assert len(mail_on) == 3  # the sixth from A: no mail, the same answer
    assert reset("alice@example.org", address=B).status_code == 302
    assert len(mail_on) == 4


def test_cli_unlock_needs_a_target_and_a_real_address(people):
    from strata.deploy.cli import accounts as cli

    def unlock(username="", address="", all=False):
        return cli._unlock(argparse.Namespace(username=username, address=address, all=all))

    with pytest.raises(cli._Bad, match="name a USERNAME"):
        unlock()
    with pytest.raises(cli._Bad, match="not an IP address"):
        unlock("alice", "nope")
    for _ in range(lockout.PAIR_FREE):
        attempt("alice", "wrong")
    assert unlock("alice") == "cleared 1 login limit(s)"  # every pair of alice; the address's stays
    assert unlock(all=True) == "cleared 1 login limit(s)"
