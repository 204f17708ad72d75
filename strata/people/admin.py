from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import Profile


class ProfileInline(admin.StackedInline):
    model = Profile
    fk_name = "user"
    can_delete = False
    verbose_name_plural = "profile"


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "title", "department", "phone", "fax")
    list_select_related = ("user",)
    list_filter = ("department",)
    search_fields = (
        "user__username",
        "user__first_name",
        "user__last_name",
        "user__email",
        "title",
        "department",
        "phone",
    )
    raw_id_fields = ("user",)


User = get_user_model()


class UserAdmin(BaseUserAdmin):
    inlines = (*BaseUserAdmin.inlines, ProfileInline)


admin.site.unregister(User)
admin.site.register(User, UserAdmin)
