from django.contrib import admin

from .models import Conversation, Notification


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ("id", "subject", "is_group", "group", "created_by", "last_message_at")
    list_select_related = ("group", "created_by")
    raw_id_fields = ("created_by", "group")


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """Operators see delivery state; message bodies stay out of the admin."""

    list_display = ("msgid", "to_address", "state", "attempts", "last_error", "created_at", "sent_at")
    list_filter = ("state",)
    search_fields = ("to_address", "msgid")
    fields = (
        "to_address",
        "subject",
        "msgid",
        "state",
        "attempts",
        "last_error",
        "next_attempt_at",
        "created_at",
        "sent_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request):
        return False
