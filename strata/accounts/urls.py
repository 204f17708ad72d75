from django.urls import path

from . import api, views

app_name = "accounts"

urlpatterns = [
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/directory/", views.manage_directory, name="directory"),
    path("api/v1/me", api.me, name="api-me"),
    path("api/v1/people/", api.people, name="api-people"),
]
