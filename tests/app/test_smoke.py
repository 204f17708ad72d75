import pytest
from django.contrib.auth.models import User


@pytest.mark.django_db
def test_db():
    User.objects.create_user("x")
    assert User.objects.count() == 1
