# One image for the code location (gRPC), the webserver, the daemon and every run container.
# Behind a TLS-inspecting proxy or with a private mirror:
#   docker compose build --build-arg PACKAGE_INDEX_URL=https://mirror.example/simple \
#     --build-arg EXTRA_CA_CERTS="$(cat corporate-ca.pem)"
FROM python:3.11.14-slim-bookworm

# A PyPI mirror (the simple API) for uv and pip; the lock's hashes are checked either way.
ARG PACKAGE_INDEX_URL=https://pypi.org/simple
# PEM text of extra CA certificates to trust while building (a proxy's CA); empty: none.
ARG EXTRA_CA_CERTS=""
ARG UV_VERSION=0.13.9

# NOTE: one "planned" event per asset of a run, not per file of a many-file run
# (README, "Many small files"); every service of compose and the Helm chart runs this image.
ENV PYTHONUNBUFFERED=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_SYSTEM_CERTS=1 \
    DAGSTER_HOME=/opt/dagster/home \
    DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=true \
    PATH=/opt/import_pipeline/.venv/bin:$PATH

RUN if [ -n "$EXTRA_CA_CERTS" ]; then \
        printf '%s\n' "$EXTRA_CA_CERTS" > /usr/local/share/ca-certificates/extra-ca.crt \
        && update-ca-certificates; \
    fi \
    && PIP_CERT=/etc/ssl/certs/ca-certificates.crt pip install --no-cache-dir \
        --index-url "$PACKAGE_INDEX_URL" "uv==$UV_VERSION"

WORKDIR /opt/import_pipeline
# Dependencies first (a layer that survives code changes): exactly the locked versions and
# hashes, without the dev group (the embedded PostgreSQL server) and the test/bench extras.
COPY pyproject.toml uv.lock README.md ./
RUN uv export --frozen --no-dev --extra docker --extra k8s --no-emit-project -o requirements.txt \
    && uv venv .venv \
    && UV_DEFAULT_INDEX="$PACKAGE_INDEX_URL" uv pip install --no-cache \
        --require-hashes -r requirements.txt
COPY import_pipeline ./import_pipeline
COPY profiles ./profiles
# NOTE: compiled here, as root: the user the image runs as cannot write beside the source,
# and every process would compile the package again.
RUN UV_DEFAULT_INDEX="$PACKAGE_INDEX_URL" uv pip install --no-cache --no-deps -e . \
    && python -m compileall -q import_pipeline

# Runs as an unprivileged user; DAGSTER_HOME is the only place it writes (and /tmp).
RUN useradd --system --uid 10001 --home-dir /opt/dagster/home --no-create-home dagster \
    && mkdir -p /opt/dagster/home
COPY dagster.yaml docker/workspace.yaml /opt/dagster/home/
COPY docker/code_health.py /opt/dagster/code_health.py
RUN chown -R dagster:dagster /opt/dagster/home
USER dagster
WORKDIR /opt/dagster/home
