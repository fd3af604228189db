"""Rewrite stored addresses into the canonical form of UserManager.normalize_email (NFKC, lower case).

Rows stored before were trimmed and lower-cased, so only addresses with compatibility characters
change. A row whose canonical form already belongs to another account is left as it is (and
reported), since merging two accounts is a decision for staff.
"""

import unicodedata

from django.db import migrations


def canonical(email: str) -> str:
    # A frozen copy of UserManager.normalize_email: a migration must not change when the model does.
    return unicodedata.normalize("NFKC", (email or "").strip()).lower()


def emails_to_canonical_form(apps, schema_editor):
    User = apps.get_model("authentication", "User")
    for user in User.objects.only("pk", "email").iterator():
        wanted = canonical(user.email)
        if wanted == user.email:
            continue
        if User.objects.filter(email=wanted).exclude(pk=user.pk).exists():
            print(f"\n  User {user.pk}: {wanted!r} belongs to another account; address left unchanged.")
            continue
        User.objects.filter(pk=user.pk).update(email=wanted)


class Migration(migrations.Migration):
    dependencies = [("authentication", "0001_initial")]

    operations = [migrations.RunPython(emails_to_canonical_form, migrations.RunPython.noop)]
