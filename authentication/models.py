import unicodedata

from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.models import AbstractBaseUser, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


class UserManager(BaseUserManager):
    use_in_migrations = True

    @classmethod
    def normalize_email(cls, email):
        """The one canonical form of an address, used to store it, look it up and key its limits.

        NFKC folds compatibility characters (fullwidth letters, the long s) into their plain
        forms, then Python lower-cases the whole address. Lookups compare this form exactly, never
        with the database's case-insensitive UPPER(), which would let an address spelt with a
        dotless i (U+0131) match the account spelt with a plain i.
        """
        return unicodedata.normalize("NFKC", (email or "").strip()).lower()

    def get_by_natural_key(self, username):
        return self.get(email=self.normalize_email(username))

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        extra_fields.setdefault("is_active", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        extra_fields.setdefault("is_active", True)
        extra_fields.setdefault("activated_at", timezone.now())
        if not extra_fields["is_staff"] or not extra_fields["is_superuser"]:
            raise ValueError("A superuser must have is_staff and is_superuser set.")
        return self._create_user(email, password, **extra_fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A Videoflix account. The email address is the login; there is no separate username."""

    email = models.EmailField("email address", max_length=254, unique=True)
    is_active = models.BooleanField(
        default=False, help_text="Inactive until the activation link from the welcome email is used."
    )
    is_staff = models.BooleanField(default=False, help_text="Can log into the admin site.")
    date_joined = models.DateTimeField(default=timezone.now)
    activated_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=(
            "When the account was first activated. A deactivated account keeps it, so registering "
            "again does not send it a new activation link."
        ),
    )

    objects = UserManager()

    EMAIL_FIELD = "email"
    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []

    class Meta:
        verbose_name = "user"
        verbose_name_plural = "users"
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_unique_case_insensitive"),
        ]

    def __str__(self):
        return self.email

    def clean(self):
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email)

    @property
    def was_ever_activated(self) -> bool:
        return self.activated_at is not None

    @property
    def username(self) -> str:
        """The SPA calls the login name `username`; here it is the email."""
        return self.email
