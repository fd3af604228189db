"""Signal receivers of the video app (connected in VideoConfig.ready)."""
