"""Test settings: real PostgreSQL and a real Redis broker (see DEVELOPERS.md to start them)."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-secret-7c1f0b2e9a4d4f0e8b6a5c3d2e1f0a9b8c")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/annotator")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
os.environ["DJANGO_SECURE"] = "false"  # the test client speaks plain HTTP
os.environ.pop("REDIS_URL", None)  # keep the cache per-process, so throttle tests are isolated

from annotator.settings import *  # noqa: F403
from annotator.settings import DATABASES, VAR_DIR

# A worker started by the suite must use the test database pytest-django created.
if os.environ.get("TEST_WORKER_DATABASE_NAME"):
    DATABASES["default"]["NAME"] = os.environ["TEST_WORKER_DATABASE_NAME"]
DATABASES["default"]["CONN_MAX_AGE"] = 0
# Parallel runs (several checkouts, helpers) each set their own TEST_DATABASE_NAME.
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("TEST_DATABASE_NAME", "test_annotator")}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Per test database, so parallel runs never share files under the same project ids.
MEDIA_ROOT = VAR_DIR / f"test-media-{DATABASES['default']['TEST']['NAME']}"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
