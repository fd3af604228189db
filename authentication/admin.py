import math

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm

from authentication import limits, services
from authentication.models import User

EMAIL_TAKEN = "An account with this email address already exists."
ADMIN_LOGIN_LOCKED = (
    "Too many failed logins for this account from your address. Please try again in %(minutes)d minute(s)."
)


class ThrottledAdminAuthenticationForm(AdminAuthenticationForm):
    """The admin login, refusing a (username, client address) pair after THROTTLE_ADMIN_LOGIN failures.

    Only that pair waits: the same account from another address, or another account from this
    address, is unaffected, so a stranger cannot lock staff out.
    """

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        wait = limits.admin_login_wait(request=self.request, username=username)
        if wait is not None:
            raise forms.ValidationError(ADMIN_LOGIN_LOCKED, params={"minutes": math.ceil(wait / 60)})
        try:
            return super().clean()
        except forms.ValidationError:
            limits.admin_login_failure_record(request=self.request, username=username)
            raise


admin.site.login_form = ThrottledAdminAuthenticationForm


def _clean_unique_email(form) -> str:
    email = User.objects.normalize_email(form.cleaned_data.get("email"))
    others = User.objects.filter(email=email)
    if form.instance.pk is not None:
        others = others.exclude(pk=form.instance.pk)
    if others.exists():
        raise forms.ValidationError(EMAIL_TAKEN)
    return email


class UserCreationAdminForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)

    def clean_email(self):
        return _clean_unique_email(self)


class UserChangeAdminForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"

    def clean_email(self):
        return _clean_unique_email(self)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserChangeAdminForm
    add_form = UserCreationAdminForm
    list_display = ("email", "is_active", "is_staff", "date_joined", "activated_at", "last_login")
    list_filter = ("is_active", "is_staff", "is_superuser")
    search_fields = ("email",)
    ordering = ("email",)
    readonly_fields = ("last_login", "date_joined", "activated_at")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Important dates", {"fields": ("date_joined", "activated_at", "last_login")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "usable_password", "password1", "password2")}),
    )
    actions = ("activate_users", "resend_activation_email")

    @admin.action(description="Activate the selected users")
    def activate_users(self, request, queryset):
        changed = services.user_activate_by_staff(users=queryset)
        self.message_user(request, f"Activated {changed} user(s).", messages.SUCCESS)

    @admin.action(description="Resend the activation email to the selected users")
    def resend_activation_email(self, request, queryset):
        users = list(queryset)
        queued = sum(services.user_activation_email_resend(user=user) for user in users)
        self.message_user(request, f"Queued an activation email for {queued} user(s).", messages.SUCCESS)
        if skipped := len(users) - queued:
            self.message_user(
                request,
                f"Skipped {skipped} user(s) that are active or were activated before.",
                messages.WARNING,
            )
