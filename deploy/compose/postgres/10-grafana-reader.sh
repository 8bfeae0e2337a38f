#!/bin/sh
# Run once by the postgres image on an empty data directory (/docker-entrypoint-initdb.d):
# Grafana's read-only login (deploy/grafana/provisioning: user grafana_reader, password
# FILLSTREAM_GRAFANA_DB_PASSWORD). It may read every table and view that the fillstream user
# creates in the namespace's schema, now (`fillstream migrate` runs after) and after rebuilds.
set -eu
: "${FILLSTREAM_GRAFANA_DB_PASSWORD:?set FILLSTREAM_GRAFANA_DB_PASSWORD}"
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v namespace="${FILLSTREAM_NAMESPACE:-fillstream}" \
    -v password="$FILLSTREAM_GRAFANA_DB_PASSWORD" <<'SQL'
SELECT 'CREATE ROLE grafana_reader LOGIN'
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'grafana_reader') \gexec
ALTER ROLE grafana_reader LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'password';
ALTER ROLE grafana_reader SET default_transaction_read_only = on;
CREATE SCHEMA IF NOT EXISTS :"namespace";
GRANT USAGE ON SCHEMA :"namespace" TO grafana_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA :"namespace" TO grafana_reader;
ALTER DEFAULT PRIVILEGES IN SCHEMA :"namespace" GRANT SELECT ON TABLES TO grafana_reader;
SQL
