"""Staff pages beyond Django's admin forms: live transcoding status (JSON polled by the list and
change pages), "Transcode again" on the change page, and the preview player of a ready video."""
