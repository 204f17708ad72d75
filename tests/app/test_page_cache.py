"""The folder page kept rendered for the same inputs (strata/site/page_cache.py), and the page frame both
template engines share (strata/site/shelltag.py): what a person sees never comes from a stale copy."""

from __future__ import annotations

import re

import pytest
from django.middleware.csrf import _unmask_cipher_token
from django.test import Client
from django.utils.safestring import mark_safe

from strata.files import actions
from strata.site import page_cache
from tests.app.test_files_sharing import build, cast  # noqa: F401 (cast: a fixture)

pytestmark = pytest.mark.django_db

_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def _counts() -> tuple[int, int]:
    return page_cache.PAGES.hits, page_cache.PAGES.misses


def _blank(html: str) -> str:
    return _TOKEN.sub('name="csrfmiddlewaretoken" value=""', html)


@pytest.fixture
def owner(cast):  # noqa: F811
    page_cache.PAGES.clear()
    return build(cast, "owner")


def test_the_same_page_again_comes_from_memory_with_a_fresh_valid_csrf_token(owner, client):
    client.force_login(owner.actor)
    url = f"/files/folder/{owner.proj.id}/"
    first = client.get(url).content.decode()
    hits, misses = _counts()
    second = client.get(url).content.decode()
    assert _counts() == (hits + 1, misses)
    assert _blank(first) == _blank(second)
    tokens = set(_TOKEN.findall(second))
    assert len(tokens) == 1  # one masked token for every form of the page
    # Each copy carries this request's masked token, which stands for the person's CSRF secret.
    secret = client.cookies["csrftoken"].value
    assert {_unmask_cipher_token(t) for t in _TOKEN.findall(first) + list(tokens)} == {secret}
    assert _TOKEN.findall(first)[0] != tokens.pop()
    # And a form sent from the kept copy is accepted.
    token = _TOKEN.findall(second)[0]
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(owner.actor)
    strict.cookies["csrftoken"] = secret
    resp = strict.post(
        "/files/new-folder",
        {"csrfmiddlewaretoken": token, "space": owner.space.id, "folder": owner.proj.id, "name": "made"},
    )
    assert resp.status_code == 302, resp.content[:300]


def test_any_change_to_what_the_page_shows_renders_it_anew(owner, client):
    client.force_login(owner.actor)
    url = f"/files/folder/{owner.proj.id}/"
    client.get(url)
    actions.rename(owner.actor, owner.proj, "renamed-proj")
    assert "renamed-proj" in client.get(url).content.decode()
    actions.create_folder(owner.actor, owner.space, owner.proj, "brand-new")
    assert "brand-new" in client.get(url).content.decode()
    owner.actor.first_name = "Alicia"
    owner.actor.save()
    assert "Alicia" in client.get(url).content.decode()


def test_a_page_with_messages_shows_them_once_and_is_not_kept(owner, client):
    client.force_login(owner.actor)
    made = client.post(
        "/files/new-folder", {"space": owner.space.id, "folder": owner.proj.id, "name": "made"}
    )
    assert made.status_code == 302
    url = made["Location"]
    hits, _ = _counts()
    assert "Folder “made” created." in client.get(url).content.decode()
    assert _counts()[0] == hits  # rendered as usual, not served from memory
    again = client.get(url).content.decode()
    assert "Folder “made” created." not in again
    assert "Folder “made” created." not in client.get(url).content.decode()  # from memory now
    assert _counts()[0] == hits + 1


def test_the_key_tells_safe_text_from_text_and_refuses_what_it_cannot_compare(owner):
    assert page_cache.freeze("<b>") != page_cache.freeze(mark_safe("<b>"))
    assert page_cache.freeze(owner.proj) != page_cache.freeze(type(owner.proj)(pk=owner.proj.pk))
    with pytest.raises(page_cache.Uncacheable):
        page_cache.freeze(type(owner.proj).objects.all())


def test_both_engines_draw_the_same_frame(owner, client):
    """A page of Django's templates (the directory) and the Jinja2 folder page share the header and the
    scripts: one template (jinja2/shell/), whichever engine renders the page."""
    owner.actor.is_staff = True
    owner.actor.save()
    client.force_login(owner.actor)

    def frame(html: str) -> tuple[str, str]:
        html = _blank(html)
        top = html[html.index("<body>") : html.index('<main id="main"')]
        return top, html[html.index("</main>") :]

    django_page = client.get("/people/").content.decode()
    jinja_page = client.get(f"/files/folder/{owner.proj.id}/").content.decode()
    assert 'href="/status/">Status</a>' in frame(jinja_page)[0]
    assert frame(django_page) == frame(jinja_page)
