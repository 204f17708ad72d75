from django.urls import path

from . import views

app_name = "people"

urlpatterns = [
    path("", views.directory, name="directory"),
    # Before the username pattern, so "me/edit/" is never read as a username.
    path("me/edit/", views.profile_edit, name="profile_edit"),
    path("suggest.json", views.suggest, name="suggest"),
    path("<str:username>/", views.person, name="person"),
]
