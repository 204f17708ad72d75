from django.urls import path

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
    path("files/<str:kind>/<int:node_id>/trash", views.trash_node, name="trash-node"),
    path("files/<str:kind>/<int:node_id>/restore", views.restore_node, name="restore"),
    path("s/<str:token>", views.public, name="public"),
    path("s/<str:token>/file/<int:file_id>", views.public_file, name="public-file"),
    # JSON API
    path("api/files/", api.spaces, name="api-spaces"),
    path("api/files/search", api.search, name="api-search"),
    path("api/files/openapi.json", api.openapi, name="api-openapi"),
    path("api/files/spaces/<int:space_id>/", api.space_listing, name="api-space"),
    path("api/files/spaces/<int:space_id>/trash/empty", api.empty_trash, name="api-empty-trash"),
    path("api/files/folders", api.folders, name="api-folders"),
    path("api/files/folders/<int:folder_id>", api.folder_detail, name="api-folder"),
    path("api/files/folders/<int:folder_id>/restore", api.folder_restore, name="api-folder-restore"),
    path("api/files/files/<int:file_id>", api.file_detail, name="api-file"),
    path("api/files/files/<int:file_id>/content", api.file_content, name="api-file-content"),
    path("api/files/files/<int:file_id>/restore", api.file_restore, name="api-file-restore"),
    path("api/files/<str:kind>/<int:node_id>/shares", api.shares, name="api-shares"),
    path("api/files/<str:kind>/<int:node_id>/links", api.links, name="api-links"),
    # Byte-carrying endpoints: nginx streams these without buffering (roles/web template).
    path("api/files/uploads/put", api.upload_put, name="api-upload-put"),
    path("api/files/uploads/form", api.upload_form, name="api-upload-form"),
    path("api/files/uploads/", api.uploads, name="api-uploads"),
    path("api/files/uploads/<str:upload_id>", api.upload_detail, name="api-upload"),
    path("api/files/uploads/<str:upload_id>/parts/<int:number>", api.upload_part, name="api-upload-part"),
    path("api/files/uploads/<str:upload_id>/complete", api.upload_complete, name="api-upload-complete"),
]
