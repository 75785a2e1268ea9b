"""Django settings for Concord, read from the environment with safe laptop defaults.

Every setting read here is listed in the README's configuration table. The helpers at the top
are strict on purpose (healthchecks' habit): a typo in a boolean is an error, not a silent False.
"""

import os
import secrets
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: str) -> bool:
    value = os.environ.get(name, default)
    if value.lower() in ("true", "1", "yes", "on"):
        return True
    if value.lower() in ("false", "0", "no", "off", ""):
        return False
    raise ImproperlyConfigured(f"{name} must be True or False, not {value!r}")


def envint(name: str, default: str) -> int:
    value = os.environ.get(name, default)
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from None


def envsecret(name: str) -> str | None:
    """The secret in NAME, or in the file that NAME_FILE points at (Docker/systemd secrets)."""
    if os.environ.get(name):
        return os.environ[name]
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={path} cannot be read: {exc}") from exc
    return None


def generated_secret(path: Path) -> str:
    """A random key kept in var/ so a laptop install keeps the same key across restarts."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(50)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


def database_from_url(url: str) -> dict:
    """DATABASES['default'] from sqlite:///path or postgresql://user:pass@host:port/name."""
    parts = urlsplit(url)
    options = dict(parse_qsl(parts.query))
    if parts.scheme == "sqlite":
        # sqlite:///var/x.sqlite3 is relative to the project; sqlite:////abs/x.sqlite3 absolute.
        name = unquote(parts.path)[1:]
        path = Path(name) if Path(name).is_absolute() else BASE_DIR / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(path),
            "OPTIONS": {
                # The web server and the worker share one file: WAL lets readers run during a
                # write, IMMEDIATE takes the write lock up front so a transaction never fails
                # halfway on "database is locked", and the timeout waits for the lock instead.
                # 64 MiB page cache (the default is 2 MiB): big imports touch large indexes.
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536;"
                ),
                "transaction_mode": "IMMEDIATE",
                "timeout": int(options.get("timeout", 30)),
            },
            # One test database per pytest process, so parallel runs never share a file.
            "TEST": {"NAME": str(path.with_name(f"test_{os.getpid()}_{path.name}"))},
        }
    if parts.scheme in ("postgres", "postgresql", "pgsql"):
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": int(options.pop("conn_max_age", 60)),
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
        }
    raise ImproperlyConfigured(
        f"DATABASE_URL scheme {parts.scheme!r} is not supported; use sqlite:/// or postgresql://"
    )


VAR_DIR = Path(os.environ.get("CONCORD_VAR_DIR", BASE_DIR / "var"))
DEBUG = envbool("DEBUG", "True")

# Keys: from the environment in production. On a laptop (DEBUG=True) they are generated once into
# var/ so the demo works with no set-up and encrypted fields stay readable across restarts.
SECRET_KEY = envsecret("SECRET_KEY")
_fernet_keys = envsecret("FERNET_KEYS")
INSECURE_KEYS = {"", "change-me", "changeme", "secret", "django-insecure"}
if DEBUG:
    SECRET_KEY = SECRET_KEY or generated_secret(VAR_DIR / "secret_key")
    _fernet_keys = _fernet_keys or generated_secret(VAR_DIR / "fernet_key")
else:
    for _name, _value in (("SECRET_KEY", SECRET_KEY), ("FERNET_KEYS", _fernet_keys)):
        if not _value or _value.strip().lower() in INSECURE_KEYS or len(_value) < 32:
            raise ImproperlyConfigured(
                f"{_name} is missing or too weak and DEBUG is False. Set {_name} (or "
                f"{_name}_FILE) to a random string of at least 32 characters, e.g. "
                "python3 -c 'import secrets; print(secrets.token_urlsafe(50))'"
            )
# Comma-separated; the first key encrypts, all of them decrypt (key rotation).
FERNET_KEYS = [key.strip() for key in _fernet_keys.split(",") if key.strip()]

PORT = envint("PORT", "8000")
# Processes a large `import_records` spreads profiling and comparing over (1: none).
MDM_WORKERS = envint("MDM_WORKERS", str(os.cpu_count() or 1))
ALLOWED_HOSTS = [
    host.strip()
    for host in os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")
    if host.strip()
]
CSRF_TRUSTED_ORIGINS = [
    origin.strip() for origin in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if origin
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_q",
    "hub",
    "connectors",
    "mdm",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "hub.urls"
WSGI_APPLICATION = "hub.wsgi.application"
ASGI_APPLICATION = "hub.asgi.application"

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

DATABASES = {
    "default": database_from_url(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'concord.sqlite3'}")
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

REDIS_URL = os.environ.get("REDIS_URL", "")
Q_CLUSTER = {
    "name": "concord",
    "workers": envint("Q_WORKERS", "2"),
    "timeout": envint("Q_TIMEOUT", "300"),
    # retry must exceed timeout, or a slow task is handed to a second worker while it runs.
    "retry": envint("Q_TIMEOUT", "300") + 60,
    "max_attempts": 3,
    "catch_up": False,
    "save_limit": 1000,
    "label": "Task queue",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
    Q_CLUSTER["poll"] = 0.5

if not DEBUG:
    SESSION_COOKIE_SECURE = envbool("SECURE_COOKIES", "True")
    CSRF_COOKIE_SECURE = envbool("SECURE_COOKIES", "True")

REST_FRAMEWORK = {
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.BasicAuthentication",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
