"""Django settings, derived only from strata.toml and the secrets file (see strata/deploy/config.py)."""

from pathlib import Path
from typing import Any

from strata.deploy import config as strata_config
from strata.deploy.roles.db.client import tls_options as _db_tls_options
from strata.deploy.roles.web.spec import content_host

CONFIG = strata_config.load()
SECRETS = strata_config.load_secrets(CONFIG)
SITE = CONFIG.site
BASE_DIR = Path(__file__).resolve().parent

DEBUG = False
# A host receives only its roles' secrets: the web host (collectstatic) has none of the app's, and Django
# refuses an empty SECRET_KEY wherever one is used.
SECRET_KEY = SECRETS.get("django_secret_key", "")
_web_hosts = CONFIG.hosts_of("web")
ALLOWED_HOSTS = [SITE["domain"], *sorted({h.address for h in CONFIG.hosts.values()})]
_https_port = CONFIG.roles["web"]["https_port"]
_port = "" if _https_port == 443 else f":{_https_port}"
CSRF_TRUSTED_ORIGINS = [f"https://{SITE['domain']}{_port}"]
# People's file bytes: only from this origin (strata.files.content), never the site's; its name is allowed
# for the one view it serves, /c/<token>.
STRATA_CONTENT_HOST = content_host(CONFIG)
STRATA_CONTENT_ORIGIN = f"https://{STRATA_CONTENT_HOST}{_port}"
ALLOWED_HOSTS.append(STRATA_CONTENT_HOST)

# Addresses allowed to call /healthz directly, and whose X-Forwarded-For is trusted.
STRATA_WEB_ADDRESSES = sorted({h.address for h in _web_hosts})
STRATA_PROBE_ADDRESSES = sorted(
    {h.address for h in _web_hosts + CONFIG.hosts_of("app")} | {"127.0.0.1", "::1"}
)

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
    "strata.files",
    "strata.accounts",
    "strata.dav",
    "strata.ops",
    "strata.live",
]

MIDDLEWARE = [
    "strata.ops.middleware.ForwardedForMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # The logged-in user from memory while its row is unchanged (strata.site.live).
    "strata.accounts.middleware.CachedAuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
if CONFIG.enabled("monitor"):
    # First: it times and counts the whole answer (strata.ops.metrics; served by the `metrics` program).
    # Without the monitor nothing would read the counts: no work on every request for them.
    MIDDLEWARE.insert(0, "strata.ops.metrics.MetricsMiddleware")

ROOT_URLCONF = "strata.site.urls"
WSGI_APPLICATION = "strata.site.wsgi.application"

# Both engines run the same context processors.
_CONTEXT_PROCESSORS = [
    "django.template.context_processors.request",
    "django.contrib.auth.context_processors.auth",
    "django.contrib.messages.context_processors.messages",
    "strata.ops.context_processors.site",
    "strata.messaging.context_processors.messaging",  # the unread count in every page's header
]
TEMPLATES: list[dict[str, Any]] = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": _CONTEXT_PROCESSORS,
            # {% url %} remembers each URL it reversed (strata/site/urltag.py).
            "builtins": ["strata.site.urltag"],
            # {% shell %}: the page frame, written once in Jinja2 (strata/site/shelltag.py).
            "libraries": {"shell": "strata.site.shelltag"},
        },
    },
    {
        # The pages people open most (*.jinja under each app's jinja2/): strata/site/jinja.py.
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "jinja2"],
        "APP_DIRS": True,
        "OPTIONS": {
            "environment": "strata.site.jinja.environment",
            "context_processors": [*_CONTEXT_PROCESSORS, "strata.site.jinja.csrf"],
        },
    },
]

_db = CONFIG.roles["db"]
_db_host = CONFIG.host_of("db")
DATABASES = {
    "default": {
        "ENGINE": "strata.site.database",  # Django's, checking pooled connections: database/base.py
        "HOST": _db_host.address,
        "PORT": _db["port"],
        "NAME": _db["name"],
        "USER": _db["user"],
        "PASSWORD": SECRETS.get("db_app_password", ""),
        "OPTIONS": {
            # max_size >= the worker's threads (roles/app/spec.py checks it), all opened with the pool
            # (min_size: growing on demand made threads wait ~160 ms for a new connection under load,
            # bench/reports/pages.md): no thread waits for a connection, so `timeout` only bounds the
            # wait while PostgreSQL is unreachable (then 503, strata.ops.errors). A broken connection
            # is replaced with retries 1, 2, 4 s apart; after reconnect_timeout the pool stops and
            # retries at once on the next request, so a worker is back within seconds of PostgreSQL
            # (psycopg_pool's default of 300 s lets the gaps grow to minutes).
            "pool": {
                "min_size": _db["pool_size"],
                "max_size": _db["pool_size"],
                "timeout": 5,
                "reconnect_timeout": 10,
            },
            "connect_timeout": 5,
            # verify-full against the site CA when the database is on another host (Config.tls_into).
            **_db_tls_options(CONFIG),
        },
    }
}

# Background tasks: queued in PostgreSQL, run by the `worker` program of the app role.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# Periodic tasks, enqueued by the `scheduler` program (first app host only): name -> (task path, seconds).
STRATA_SCHEDULE: dict[str, tuple[str, int]] = {}

# Sessions are rows of django_session, read from each process's memory while unchanged: every app server
# drops its copy when a row changes (a PostgreSQL NOTIFY from a trigger), so a logout is seen everywhere
# at once. Measured against signed cookies and the plain database engine in bench/reports/pages.md.
SESSION_ENGINE = "strata.accounts.session_store"
STRATA_LIVE_CACHE = True

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
# comms (Postfix): notifications out through Postfix, replies back in. Off: messages stay in the app and
# no email is attempted (the dummy backend drops Django's own mail; password resets say to ask an admin).
from strata.deploy.roles.comms import client as _comms  # noqa: E402 - the role's naming rules, no Django inside

INSTALLED_APPS += ["strata.messaging"]
STRATA_MESSAGE_MAX_BYTES = CONFIG.options("comms")["max_message_kb"] * 1024
STRATA_SITE_URL = CONFIG.url()
DEFAULT_FROM_EMAIL = SERVER_EMAIL = _comms.from_address(CONFIG)
STRATA_COMMS = None
EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
if CONFIG.enabled("comms"):
    STRATA_COMMS = {
        "address": CONFIG.host_of("comms").address,
        "port": CONFIG.roles["comms"]["port"],
        "reply_domain": _comms.reply_domain(CONFIG),
        "from_address": _comms.from_address(CONFIG),
        "helo": f"app.{_comms.reply_domain(CONFIG)}",
        # STARTTLS required and verified with the site CA when Postfix is on another host; None: plain.
        "tls": _comms.starttls_context(CONFIG),
        # Postfix's pipe posts replies from these addresses, straight to an app server.
        "inbound_addresses": sorted({h.address for h in CONFIG.hosts_of("comms")}),
    }
    EMAIL_BACKEND = "strata.messaging.mail.QueueBackend"
    # Reached on the app servers' own address, like /healthz (over TLS when Postfix is another host).
    SECURE_REDIRECT_EXEMPT += [r"^messages/inbound/$"]
    STRATA_SCHEDULE["messaging.requeue"] = ("strata.messaging.tasks.requeue_stuck_notifications", 300)

# domain (OpenLDAP): logins bind to the directory; people, groups and services are mirrored into the
# database at login and by the scheduled sync. Off: Django's own accounts. Login limits either way.
STRATA_DOMAIN = CONFIG.enabled("domain")
# Failed logins are limited per (username, address) and per address: strata.accounts.lockout.
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
if STRATA_DOMAIN:
    import ldap as _ldap
    from django_auth_ldap.config import LDAPSearch as _LDAPSearch

    from strata.accounts.ldap_groups import MemberOfGroupType as _MemberOf
    from strata.deploy.roles.domain.client import TIMEOUT as _LDAP_TIMEOUT
    from strata.deploy.roles.domain.client import server_uri as _ldap_uri
    from strata.deploy.roles.domain.client import tree as _ldap_tree

    _tree = _ldap_tree(CONFIG)
    AUTHENTICATION_BACKENDS = [
        "strata.accounts.backends.EmergencyBackend",
        "strata.accounts.backends.DirectoryBackend",
    ]
    AUTH_LDAP_SERVER_URI = _ldap_uri(CONFIG)
    AUTH_LDAP_START_TLS = True
    AUTH_LDAP_CONNECTION_OPTIONS = {
        _ldap.OPT_PROTOCOL_VERSION: 3,
        _ldap.OPT_REFERRALS: 0,
        _ldap.OPT_NETWORK_TIMEOUT: _LDAP_TIMEOUT,
        _ldap.OPT_TIMEOUT: _LDAP_TIMEOUT,
        _ldap.OPT_X_TLS_CACERTFILE: str(CONFIG.var_dir / "pki" / "ca.crt"),
        _ldap.OPT_X_TLS_REQUIRE_CERT: _ldap.OPT_X_TLS_DEMAND,
        _ldap.OPT_X_TLS_NEWCTX: 0,  # last: applies the TLS options above
    }
    AUTH_LDAP_BIND_DN = _tree.app
    AUTH_LDAP_BIND_PASSWORD = SECRETS.get("ldap_app_password", "")
    # Bind straight as the person (no search first), then read their own entry with that bind.
    AUTH_LDAP_USER_DN_TEMPLATE = f"uid=%(user)s,{_tree.people}"
    AUTH_LDAP_USER_ATTRLIST = [
        "uid",
        "cn",
        "sn",
        "givenName",
        "mail",
        "telephoneNumber",
        "facsimileTelephoneNumber",
        "title",
        "departmentNumber",
        "memberOf",
        "shadowExpire",
    ]
    AUTH_LDAP_USER_ATTR_MAP = {"first_name": "givenName", "last_name": "sn", "email": "mail"}
    AUTH_LDAP_ALWAYS_UPDATE_USER = True
    AUTH_LDAP_GROUP_SEARCH = _LDAPSearch(_tree.groups, _ldap.SCOPE_ONELEVEL, "(objectClass=groupOfNames)")
    AUTH_LDAP_GROUP_TYPE = _MemberOf(_tree.groups)
    AUTH_LDAP_MIRROR_GROUPS = True
    AUTH_LDAP_CACHE_TIMEOUT = 0
    STRATA_SCHEDULE["domain.sync"] = (
        "strata.accounts.tasks.sync_directory",
        CONFIG.roles["domain"]["sync_seconds"],
    )
STRATA_API_GROUP = CONFIG.options("domain")["api_group"]

# files (SeaweedFS)
STRATA_FILES = dict(CONFIG.options("files"))
STRATA_FILES_LOCAL_ROOT = CONFIG.var_dir / "data" / "files-local"  # the fallback's storage
STRATA_SCHEDULE["files.reconcile"] = ("strata.files.tasks.reconcile_files", 6 * 3600)
STRATA_SCHEDULE["files.purge"] = ("strata.files.tasks.purge_deleted_objects", 3600)

# Live updates (strata.live): events are replayed to a reconnecting page from the table for this long.
STRATA_EVENTS_KEEP_SECONDS = 24 * 3600
STRATA_SCHEDULE["live.prune"] = ("strata.live.tasks.prune_events", 3600)
