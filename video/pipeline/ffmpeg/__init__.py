"""Everything Videoflix knows about FFmpeg, with no Django models in it.

Functions here take plain values (paths, a probe result, rung names) and return plain values
(dataclasses, argument lists, files on disk); the pipeline's services decide what to store.
Commands are argument lists run with `subprocess`, never through a shell.

- `probe`: what a source is (duration, displayed size, frame rate, audio) and whether it decodes;
- `ladder`: which rungs to make and the one ffmpeg command that makes them all;
- `encode`: running that command with progress, and the thumbnail;
- `playlists`: reading media playlists and writing the master playlist.
"""
