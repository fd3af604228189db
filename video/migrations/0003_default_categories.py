"""A fresh database offers a few categories, so the admin's first upload can pick one."""

from django.db import migrations

DEFAULT_CATEGORIES = ["Action", "Comedy", "Documentary", "Drama", "Romance"]


def add_default_categories(apps, schema_editor):
    Category = apps.get_model("video", "Category")
    for name in DEFAULT_CATEGORIES:
        if not Category.objects.filter(name__iexact=name).exists():
            Category.objects.create(name=name)


def remove_unused_default_categories(apps, schema_editor):
    Category = apps.get_model("video", "Category")
    Category.objects.filter(name__in=DEFAULT_CATEGORIES, videos__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("video", "0002_rungs_and_source_probe"),
    ]

    operations = [
        migrations.RunPython(add_default_categories, remove_unused_default_categories),
    ]
