"""Settings for the benchmark's gunicorn: the project's settings plus a bench-only URLconf.

The URLconf adds one trivial authenticated endpoint (the framework's ceiling) that the product
does not ship; everything else is exactly core.settings, read from the environment.
"""

from core.settings import *  # noqa: F403

ROOT_URLCONF = "bench.api_urls"
