#!/bin/sh
# Two databases on one server: `dagster` (Dagster's runs, events, schedules; the image creates
# it and its owner from POSTGRES_DB/POSTGRES_USER) and `imports` (commerce + ingest, migrated
# by the code), owned by its own role, so the webserver never holds a password to the data.
# Runs once, on an empty data volume.
set -eu
psql -v ON_ERROR_STOP=1 -v password="$IMPORTS_DB_PASSWORD" \
    --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
CREATE ROLE imports LOGIN PASSWORD :'password';
CREATE DATABASE imports OWNER imports;
SQL
