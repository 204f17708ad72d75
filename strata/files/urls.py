from django.urls import include, path

from . import api, views

app_name = "files"
urlpatterns = [
    path("files/", views.home, name="home"),
    path("files/space/<int:space_id>/", views.space, name="space"),
    path("files/space/<int:space_id>/folder/<int:folder_id>/", views.space, name="space-folder"),
    path("files/folder/<int:folder_id>/", views.folder, name="folder"),
    path("files/file/<int:file_id>/", views.file, name="file"),
    path("files/file/<int:file_id>/download", views.download, name="download"),
    path("files/shared/", views.shared, name="shared"),
    path("files/search/", views.search, name="search"),
    path("files/space/<int:space_id>/trash/", views.trash, name="trash"),
    path("files/space/<int:space_id>/trash/empty", views.empty_trash, name="empty-trash"),
    path("files/new-folder", views.new_folder, name="new-folder"),
    path("files/<str:kind>/<int:node_id>/share", views.share, name="share"),
    path("files/<str:kind>/<int:node_id>/link", views.link, name="link"),
    path("files/<str:kind>/<int:node_id>/rename", views.rename_node, name="rename"),
    path("files/<str:kind>/<int:node_id>/move", views.move_node, name="move"),
    path("files/shares/<int:share_id>/remove", views.unshare, name="unshare"),
    path("files/links/<int:link_id>/revoke", views.revoke_link, name="revoke-link"),
    path("files/<str:kind>/<int:node_id>/trash", views.trash_node, name="trash-node"),
    path("files/<str:kind>/<int:node_id>/restore", views.restore_node, name="restore"),
    path("s/<str:token>", views.public, name="public"),
    # Served on the content host only (nginx proxies /c/ there and refuses it on the site's name).
    path("c/<str:token>", views.content, name="content"),
    path("s/<str:token>/file/<int:file_id>", views.public_file, name="public-file"),
    # JSON API (declared in api.py; nginx streams the byte-carrying uploads without buffering).
    path("api/files/", include(api.urlpatterns())),
]
