"""Shared test setup: a derandomized hypothesis profile, so CI never flakes.

`HYPOTHESIS_PROFILE=dev` gives a randomized, longer run for local bug hunting.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

# hciplan's cache (hciplan/cache.py) goes to a folder of this session's, not the user's: the tests and the
# commands they start share it, and a test run leaves nothing behind, in the home folder or elsewhere.
if "HCIPLAN_CACHE_DIR" not in os.environ:
    os.environ["HCIPLAN_CACHE_DIR"] = tempfile.mkdtemp(prefix="hciplan-test-cache-")
    atexit.register(shutil.rmtree, os.environ["HCIPLAN_CACHE_DIR"], True)

from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=60,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, max_examples=2000, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
