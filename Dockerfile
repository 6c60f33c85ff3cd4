# syntax=docker/dockerfile:1
#
# opsreport operator image.
#   docker build -t opsreport:0.1.0 --build-arg VERSION=0.1.0 --build-arg REVISION=$(git rev-parse HEAD) .
#
# Runs as UID 10001 with a read-only root filesystem: the only writable path it needs is
# /tmp (mount an emptyDir there). Liveness/readiness come from Kubernetes probes, so there
# is no HEALTHCHECK.

# Builder and runtime must share one base: the venv's python symlinks point into it.
ARG PYTHON_IMAGE=python:3.11.14-slim-trixie

FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
# .dockerignore keeps tests, venvs, caches and VCS data out of the context.
COPY . /src

# Build the project's own wheel from this source tree (never a registry copy of it), then
# install it with its runtime dependencies (no extras: the test-only kubernetes_asyncio stays out)
# into a self-contained venv, at the versions constraints.txt pins and the tests ran with.
RUN pip wheel --no-deps -w /dist . \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install -c constraints.txt /dist/opsreport-*.whl \
 && /opt/venv/bin/pip check \
 && /opt/venv/bin/pip uninstall -y pip


FROM ${PYTHON_IMAGE} AS runtime

# Re-declared so the label below can name the base image.
ARG PYTHON_IMAGE
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown

LABEL org.opencontainers.image.title="opsreport" \
      org.opencontainers.image.description="A Kubernetes operator that writes scheduled, measured operations reports" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"

# Bytecode was compiled at install time; with a read-only root nothing may write .pyc.
# HOME and TMPDIR point at /tmp so libraries that want a writable home find one.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    TMPDIR=/tmp

COPY --from=builder /opt/venv /opt/venv

WORKDIR /tmp
# Numeric so Kubernetes can enforce runAsNonRoot without an /etc/passwd entry.
USER 10001:10001

ENTRYPOINT ["opsreport", "operator"]
