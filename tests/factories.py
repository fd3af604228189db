import factory
from django.contrib.auth import get_user_model

from video.models import Category, Video


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"viewer{n}@example.com")
    is_active = True
    password = factory.PostGenerationMethodCall("set_password", "Sturdy-Passw0rd!")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Category {n}")


class VideoFactory(factory.django.DjangoModelFactory):
    """A catalogue row; it has no real media unless a test writes some."""

    class Meta:
        model = Video

    title = factory.Sequence(lambda n: f"Film {n}")
    description = "A film."
    category = factory.SubFactory(CategoryFactory)
    source = factory.Sequence(lambda n: f"sources/film{n}.mp4")
    status = Video.Status.READY
    playable = factory.LazyAttribute(lambda video: video.status == Video.Status.READY)
