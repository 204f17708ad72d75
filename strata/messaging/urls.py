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
]
