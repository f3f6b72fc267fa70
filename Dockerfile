# syntax=docker/dockerfile:1
# Firebreak: one image for every process (api, worker, beat, db upgrade, simulate).
#
#   docker build -t firebreak .
#   docker run --rm firebreak --help
#
# Stage 1 builds wheels for Firebreak and its dependencies; stage 2 installs them into a clean
# python:3.11-slim with no compiler and no pip cache, and runs as an unprivileged user.

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY workers ./workers
COPY simulator ./simulator
RUN pip wheel --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    FIREBREAK_HOME=/var/lib/firebreak \
    FIREBREAK_RUNBOOKS_DIR=/app/runbooks \
    FIREBREAK_TARGETS_FILE=/app/deploy/targets.yml \
    FIREBREAK_LOG_JSON=1

RUN groupadd --system --gid 10001 firebreak \
    && useradd --system --uid 10001 --gid firebreak --no-create-home \
        --home-dir /var/lib/firebreak --shell /usr/sbin/nologin firebreak \
    && mkdir -p /var/lib/firebreak \
    && chown firebreak:firebreak /var/lib/firebreak

RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels firebreak

WORKDIR /app
COPY runbooks ./runbooks
COPY deploy/targets.yml ./deploy/targets.yml

USER firebreak:firebreak
# Embedded state (beat schedule, console chat log, postmortem files) lives here.
VOLUME ["/var/lib/firebreak"]
EXPOSE 8080

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]

ENTRYPOINT ["firebreak"]
CMD ["api", "--host", "0.0.0.0", "--port", "8080"]
