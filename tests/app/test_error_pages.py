"""The error pages wear the site's look: the stylesheet, a card that says what happened, the way back."""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory
from django.views import defaults

from strata.ops import errors

pytestmark = pytest.mark.django_db


def test_not_found_shows_the_header_and_a_way_back(client, people):
    client.force_login(people["alice"])
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "strata/site.css" in html
    assert "<title>Page not found · " in html
    assert 'class="card error-page"' in html
    assert 'class="site-user"' in html  # the header of every page, with the person's name
    assert "Go to the directory" in html


def test_server_error_page_needs_no_request_context():
    request = RequestFactory().get("/boom")
    response = errors.server_error(request)  # no exception in flight: Django's 500 page, our template
    assert response.status_code == 500
    html = response.content.decode()
    assert "strata/site.css" in html
    assert "Something went wrong" in html
    assert defaults.ERROR_500_TEMPLATE_NAME == "500.html"


def test_a_form_sent_without_its_token_gets_the_styled_page():
    response = Client(enforce_csrf_checks=True).post("/accounts/login/", {"username": "x", "password": "y"})
    assert response.status_code == 403
    html = response.content.decode()
    assert "This form has expired" in html
    assert "strata/site.css" in html
