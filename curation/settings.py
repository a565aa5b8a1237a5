"""One settings module, read from the environment (see README "Configuration").

With nothing set it is the embedded default: SQLite under ./var, a filesystem
queue beside the database (no Redis server), SmolLM2 on the CPU.
"""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from curation.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("ASSAY_DATA_DIR", str(BASE_DIR / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)
# Where exports asked for from the web page or the API are written, one folder each (a web
# user names the folder, never a path). Web and workers must see the same folder.
EXPORT_DIR = Path(env_str("ASSAY_EXPORT_DIR", str(DATA_DIR / "exports"))).resolve()


def _secret_key() -> str:
    key = env_str("SECRET_KEY")
    if key:
        return key
    # Embedded default: a random key kept beside the data, so sessions survive restarts.
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# Behind TLS in production: every secure-cookie and HSTS setting follows one switch.
HTTPS = env_bool("ASSAY_HTTPS", False)
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    # Swagger UI at /api/v1/docs from ninja's own static files, not a CDN.
    "ninja",
    "curation.core",
    "curation.accounts",
    "curation.sources",
    "curation.campaigns",
    "curation.generation",
    "curation.scoring",
    "curation.review",
    "django_htmx",
    "curation.exports",
    "curation.metrics",
    "curation.integrations.argilla",
]

MIDDLEWARE = [
    "curation.core.timing.ServerTiming",  # first: its figure covers the whole stack
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "curation.urls"
WSGI_APPLICATION = "curation.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASE_URL = env_str("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'assay.sqlite3'}"
try:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("CONN_MAX_AGE", 0))}
except ValueError as e:  # an unknown scheme or a malformed URL; the message never holds the password
    raise ImproperlyConfigured(f"DATABASE_URL: {e}") from None
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web app, a worker and a command share one file: WAL lets readers run beside
    # the writer, IMMEDIATE takes the write lock up front (no upgrade deadlocks).
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "staticfiles"
# WhiteNoise warns at every start when STATIC_ROOT is missing, though it serves from the finders.
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the finders so `make run` needs no collectstatic step.
WHITENOISE_USE_FINDERS = True


def _embedded_queue_dir() -> Path:
    """The filesystem queue lives beside its database, so two databases never share a queue."""
    db = DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return Path(str(db["NAME"]) + ".queue")
    return DATA_DIR / ("queue-" + hashlib.sha256(DATABASE_URL.encode()).hexdigest()[:12])


# Celery (read by workers/celery_app.py with namespace "CELERY").
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
EMBEDDED_QUEUE = not CELERY_BROKER_URL
if EMBEDDED_QUEUE:
    _queue = _embedded_queue_dir()
    for sub in ("messages", "control"):
        (_queue / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://localhost//"  # the host is unused; naming it silences a warning
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue / "messages"),
        "data_folder_out": str(_queue / "messages"),
        "control_folder": str(_queue / "control"),
        "store_processed": False,
    }
else:
    # Redis re-delivers an unacknowledged task after this; every time limit stays below it.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 7200)}
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 1800)
CELERY_TASK_TIME_LIMIT = CELERY_TASK_SOFT_TIME_LIMIT + 120

ASSAY = {
    # Candidates per generation batch; 0: per backend (generation/batches.py: 4 on the CPU,
    # 8 x concurrency for an endpoint, 256 for vLLM), each well inside the time limit.
    "GENERATION_BATCH_SIZE": env_int("ASSAY_GENERATION_BATCH_SIZE", 0),
    # Messages published when a campaign starts or resumes: each is a turn that claims batches
    # from the database, so a campaign of any size publishes this many, never one per batch.
    "GENERATION_FANOUT": env_int("ASSAY_GENERATION_FANOUT", 8),
    # Attempts of a batch (a worker lost, an engine error, a bug) before it and its campaign fail.
    "GENERATION_MAX_ATTEMPTS": env_int("ASSAY_GENERATION_MAX_ATTEMPTS", 3),
    "SCORING_BATCH_SIZE": env_int("ASSAY_SCORING_BATCH_SIZE", 64),
    # Retries of a scoring task that raised, before its campaign fails with the error.
    "SCORING_MAX_RETRIES": env_int("ASSAY_SCORING_MAX_RETRIES", 3),
    # A worker renews the lease of the batch it generates every third of this; a dead worker's
    # batch is handed on once it runs out.
    "WORK_LEASE_SECONDS": env_int("ASSAY_WORK_LEASE_SECONDS", 60),
    # The sweeper's period, and how long work may sit untouched before it is queued again.
    "SWEEP_SECONDS": env_int("ASSAY_SWEEP_SECONDS", 30),
    "STALE_SECONDS": env_int("ASSAY_STALE_SECONDS", 120),
    # `--wait` reports a stalled campaign after this long without progress.
    "WAIT_STALL_SECONDS": env_int("ASSAY_WAIT_STALL_SECONDS", 600),
    "LEASE_SECONDS": env_int("ASSAY_LEASE_SECONDS", 900),
    "API_PAGE_SIZE": env_int("ASSAY_API_PAGE_SIZE", 50),
    # An export of at least this many human rows reads them in a forked child (PostgreSQL).
    "EXPORT_PARALLEL_MIN_ROWS": env_int("ASSAY_EXPORT_PARALLEL_MIN_ROWS", 50_000),
    # The Argilla bridge (campaign config `argilla:`): the key of an Argilla owner
    # (ASSAY_ARGILLA_API_KEY_FILE for a secret file), and how long an item pushed to Argilla
    # stays leased there without a successful sync before it returns to Assay's own queue.
    "ARGILLA_API_KEY": env_str("ASSAY_ARGILLA_API_KEY"),
    "ARGILLA_LEASE_SECONDS": env_int("ASSAY_ARGILLA_LEASE_SECONDS", 86400),
    # Where Argilla reaches Assay's webhook endpoint (https://assay.example.com/integrations/
    # argilla/webhook): set, each sync keeps a webhook on the Argilla server posting answers
    # there, and an answer queues its campaign's sync at once. Empty: the sweep alone pulls.
    "ARGILLA_WEBHOOK_URL": env_str("ASSAY_ARGILLA_WEBHOOK_URL"),
}

# The periodic jobs a campaign needs to keep moving on its own (beat in production; `make
# worker` and the embedded default's worker run beat inside the worker). A sweep that waited
# a whole period is dropped: the next one does the same work.
CELERY_BEAT_SCHEDULE = {
    "sweep": {
        "task": "workers.sweep",
        "schedule": float(ASSAY["SWEEP_SECONDS"]),
        "options": {"expires": float(ASSAY["SWEEP_SECONDS"])},
    },
}
# Interval jobs only: nothing worth a schedule file, which two beats would share badly.
CELERY_BEAT_SCHEDULER = "celery.beat:Scheduler"

LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["stderr"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
