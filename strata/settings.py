"""Django settings, derived only from strata.toml and the secrets file (see strata/config.py)."""

from pathlib import Path

from strata import config as strata_config

CONFIG = strata_config.load()
SECRETS = strata_config.load_secrets(CONFIG)
SITE = CONFIG.site
BASE_DIR = Path(__file__).resolve().parent

DEBUG = False
SECRET_KEY = SECRETS["django_secret_key"]
_web_hosts = CONFIG.hosts_of("web")
ALLOWED_HOSTS = [SITE["domain"], *sorted({h.address for h in CONFIG.hosts.values()})]
_https_port = CONFIG.roles["web"]["https_port"]
_port = "" if _https_port == 443 else f":{_https_port}"
CSRF_TRUSTED_ORIGINS = [f"https://{SITE['domain']}{_port}"]

# Addresses allowed to call /healthz directly, and whose X-Forwarded-For is trusted.
STRATA_WEB_ADDRESSES = sorted({h.address for h in _web_hosts})
STRATA_PROBE_ADDRESSES = sorted({h.address for h in _web_hosts + CONFIG.hosts_of("app")} |
                                {"127.0.0.1", "::1"})

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "strata.people",
    "strata.ops",
]

MIDDLEWARE = [
    "strata.ops.middleware.ForwardedForMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "strata.urls"
WSGI_APPLICATION = "strata.wsgi.application"

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
                "strata.ops.context_processors.site",
            ],
        },
    },
]

_db = CONFIG.roles["db"]
_db_host = CONFIG.host_of("db")
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": _db_host.address,
        "PORT": _db["port"],
        "NAME": _db["name"],
        "USER": _db["user"],
        "PASSWORD": SECRETS["db_app_password"],
        "OPTIONS": {"pool": {"min_size": 1, "max_size": _db["pool_size"], "timeout": 10},
                    "connect_timeout": 5},
    }
}

# Background tasks: queued in PostgreSQL, run by the `worker` program of the app role.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# Periodic tasks, enqueued by the `scheduler` program (first app host only): name -> (task path, seconds).
STRATA_SCHEDULE: dict[str, tuple[str, int]] = {}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "people:directory"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = SITE["time_zone"]
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = CONFIG.var_dir / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# TLS ends at nginx, which sets X-Forwarded-Proto on every proxied request.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = True
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # probed over plain HTTP by the web tier and `strata status`
SECURE_HSTS_SECONDS = SITE["hsts_seconds"]
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["stderr"], "level": "INFO"},
    "loggers": {"django.security.DisallowedHost": {"level": "ERROR"}},
}

# --- optional roles: each section reads its role's options; the fallback applies when it is absent ---
# comms (Postfix)

# domain (OpenLDAP)

# files (SeaweedFS)
