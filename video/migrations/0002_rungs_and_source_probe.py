from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("video", "0001_initial")]

    operations = [
        migrations.RenameField(model_name="video", old_name="renditions", new_name="rungs"),
        migrations.AddField(
            model_name="video",
            name="source_probe",
            field=models.JSONField(
                blank=True, null=True, help_text="What the upload check read from the source (ffprobe)."
            ),
        ),
    ]
