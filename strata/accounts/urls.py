from django.urls import path

from . import api, views

app_name = "accounts"

urlpatterns = [
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/directory/", views.manage_directory, name="directory"),
    path("accounts/app-passwords/", views.app_passwords, name="app_passwords"),
    path("accounts/password/reset/", views.password_reset, name="password_reset"),
    path("accounts/password/reset/sent/", views.password_reset_done, name="password_reset_done"),
    path(
        "accounts/password/reset/<uidb64>/<token>/",
        views.password_reset_confirm,
        name="password_reset_confirm",
    ),
    path("accounts/password/reset/done/", views.password_reset_complete, name="password_reset_complete"),
    path("api/v1/me", api.me, name="api-me"),
    path("api/v1/people/", api.people, name="api-people"),
]
