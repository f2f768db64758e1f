# One image for the code location (gRPC), the webserver and the daemon.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    DAGSTER_HOME=/opt/dagster/home \
    PATH=/opt/import_pipeline/.venv/bin:$PATH

RUN pip install --no-cache-dir "uv>=0.5,<1"

WORKDIR /opt/import_pipeline
# Dependencies first (a layer that survives code changes), then the project itself.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-install-project
COPY import_pipeline ./import_pipeline
COPY profiles ./profiles
RUN uv sync --frozen

COPY dagster.yaml docker/workspace.yaml /opt/dagster/home/
