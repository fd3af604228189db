"""Spies around steps of the transcoding job, for tests that act at an exact moment of a real
encode (real ffmpeg, real database). Django and the pipeline are imported when a spy is set, so
importing this module stays free of Django like the rest of tests/support."""

from collections.abc import Callable


def after_first_publish(monkeypatch, action: Callable[[], object]) -> None:
    """Make `action()` run once, inside the job, right after its publishing step first leaves a rung
    published (viewers can play from then on). An exception from `action` breaks the job there, as a
    failure mid-encode does."""
    from video.pipeline import transcode

    original = transcode._Publisher.publish
    acted = []

    def publish_then_act(self, speeds):
        still_current = original(self, speeds)
        if self.output.published() and not acted:
            acted.append(True)
            action()
        return still_current

    monkeypatch.setattr(transcode._Publisher, "publish", publish_then_act)
