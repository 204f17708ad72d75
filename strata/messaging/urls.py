from django.urls import path

from . import views

app_name = "messaging"

urlpatterns = [
    path("messages/", views.inbox, name="inbox"),
    path("messages/new/", views.start, name="start"),
    path("messages/unread/", views.unread, name="unread"),
    path("messages/settings/", views.preferences, name="preferences"),
    path("messages/inbound/", views.inbound, name="inbound"),
    path("messages/c/<int:pk>/", views.conversation, name="conversation"),
    path("messages/c/<int:pk>/send/", views.send, name="send"),
    path("messages/c/<int:pk>/after/<int:after>/", views.messages_after, name="after"),
    path("accounts/password/reset/", views.password_reset, name="password_reset"),
    path("accounts/password/reset/sent/", views.password_reset_done, name="password_reset_done"),
    path(
        "accounts/password/reset/<uidb64>/<token>/",
        views.password_reset_confirm,
        name="password_reset_confirm",
    ),
    path("accounts/password/reset/done/", views.password_reset_complete, name="password_reset_complete"),
]
