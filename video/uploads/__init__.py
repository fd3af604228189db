"""Resumable staff uploads: the admin's uploader sends a film in pieces that survive a dropped
network or a closed page, and the video form then takes the assembled, checked file.

    store.py     the local backend: uploads as files under VIDEO_UPLOAD_DIR (outside MEDIA_ROOT)
    services.py  what happens when the last byte arrives (the upload checks) and when a form
                 takes an upload; the sweep of abandoned uploads
    tus.py       the tus 1.0 protocol over the local store (core, creation, termination, expiration)
    forms.py     the uploader widget and the form field that names a finished upload

A second backend (browser-to-bucket multipart uploads for object storage) plugs in beside tus.py:
the widget names its backend, and the form only asks services.upload_claim for a checked file.
"""
