from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="people:directory"), name="home"),
    path("", include("strata.accounts.urls")),  # first: its login view answers "directory unavailable"
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("people/", include("strata.people.urls")),
    path("", include("strata.messaging.urls")),
    path("", include("strata.files.urls")),
    path("", include("strata.ops.urls")),
    # The admin's own login form would skip the login limits (strata.accounts.lockout): use the site's.
    path("admin/login/", RedirectView.as_view(pattern_name="accounts:login", query_string=True)),
    path("admin/", admin.site.urls),
]

# A database outage answers 503 with Retry-After (strata.ops.errors), never a bare 500.
handler500 = "strata.ops.errors.server_error"
