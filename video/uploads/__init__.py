"""Resumable staff uploads: the admin's uploader sends a film in pieces that survive a dropped
network or a closed page, and the video form then takes the assembled, checked file.

    store.py     the local backend: uploads as files under VIDEO_UPLOAD_DIR (outside MEDIA_ROOT)
    services.py  what happens when the last byte arrives (the upload checks) and when a form
                 takes an upload; the sweep of abandoned uploads
    tus.py       the tus 1.0 protocol over the local store (core, creation, termination, expiration)
    bucket.py    the s3 backend (MEDIA_STORAGE=s3): the browser sends parts straight to the
                 bucket; start or resume, sign, check the assembled object, claim, sweep
    s3.py        its signing endpoints for Uppy's AwsS3 plugin
    forms.py     the uploader widget and the form field that names a finished upload

The widget names its backend (tus or s3), and the form asks that backend's claim for a checked file.
"""
