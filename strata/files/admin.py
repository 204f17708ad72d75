from django.contrib import admin

from .models import AuditEvent, File, Folder, PublicLink, Quota, Share, Space


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The audit trail: read-only, newest first."""

    list_display = ("at", "action", "actor", "name", "address")
    list_filter = ("action",)
    search_fields = ("name", "actor__username", "address")
    date_hierarchy = "at"
    list_select_related = ("actor",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Quota)
class QuotaAdmin(admin.ModelAdmin):
    list_display = ("user", "limit_bytes")
    search_fields = ("user__username",)
    autocomplete_fields = ("user",)


@admin.register(File)
class FileAdmin(admin.ModelAdmin):
    list_display = ("name", "space", "size", "created_by", "created_at", "trashed_at", "missing_since")
    list_filter = ("trashed_at", "missing_since")
    search_fields = ("name", "key", "sha256")
    list_select_related = ("space", "created_by", "space__owner", "space__group")
    readonly_fields = ("key", "sha256", "size", "content_type", "created_by", "created_at", "updated_at")

    def has_add_permission(self, request):
        return False  # files arrive through uploads, which store the bytes first

    def has_delete_permission(self, request, obj=None):
        return False  # through the trash, which removes the bytes and keeps usage counts right


admin.site.register(Space)
admin.site.register(Folder)
admin.site.register(Share)
admin.site.register(PublicLink)
