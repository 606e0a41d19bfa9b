#!/usr/bin/env bash
# The planb demo: a throwaway PostgreSQL, a small CAST-like estate (two
# applications with management, dashboard and analysis schemas, delivery
# folders and options, a measurement schema), a backup, damage, and a
# restore through a reviewed plan. Everything lives in one temporary
# directory that is removed at the end (set KEEP=1 to keep it).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
bindir=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
for p in initdb pg_ctl postgres; do
  [ -x "$bindir/$p" ] || { echo "demo: $bindir/$p not found; install PostgreSQL 15 (apt-get install -y postgresql)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/planb-demo.XXXXXX)
chmod 755 "$work"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  as_pg "$bindir/pg_ctl" -D "$work/pgdata" -m immediate stop >/dev/null 2>&1 || true
  if [ "${KEEP:-}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
  step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
  step() { printf '\n== %s\n' "$*"; }
fi

step "build planb"
echo "go build ./cmd/planb (the first build downloads and compiles the modules planb uses: a minute or two on a fresh machine)"
(cd "$repo" && go build -o "$work/planb" ./cmd/planb)
echo "built $work/planb: $("$work/planb" version)"
planb() { "$work/planb" --chdir "$work/config" "$@"; }

step "start a throwaway PostgreSQL"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 55432)
password=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
mkdir -p "$work/pgdata" "$work/sock"
echo "$password" > "$work/pwfile"
[ "$(id -u)" = 0 ] && chown -R postgres "$work/pgdata" "$work/sock" "$work/pwfile"
as_pg "$bindir/initdb" -D "$work/pgdata" -U postgres --pwfile="$work/pwfile" --auth-local=trust --auth-host=scram-sha-256 >/dev/null
rm -f "$work/pwfile"
as_pg "$bindir/pg_ctl" -D "$work/pgdata" -l "$work/pgdata/log" -w \
  -o "-p $port -k $work/sock -c listen_addresses=127.0.0.1" start >/dev/null
export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres PGPASSWORD=$password
psql -q -d postgres -c "CREATE DATABASE aip"

step "seed a sample estate"
for app in shop billing; do
  psql -q -d aip <<SQL
CREATE SCHEMA ${app}_mngt;    CREATE TABLE ${app}_mngt.versions (id int PRIMARY KEY, name text, delivered timestamptz);
INSERT INTO ${app}_mngt.versions SELECT g, 'v' || g, now() - g * interval '30 days' FROM generate_series(1, 5) g;
CREATE SCHEMA ${app}_central; CREATE TABLE ${app}_central.snapshots (id int PRIMARY KEY, taken date, grade numeric(4,2));
INSERT INTO ${app}_central.snapshots SELECT g, current_date - g, 2 + (g % 20) / 10.0 FROM generate_series(1, 200) g;
CREATE SCHEMA ${app}_local;   CREATE TABLE ${app}_local.objects (id bigint PRIMARY KEY, kind text, fullname text);
INSERT INTO ${app}_local.objects SELECT g, 'COBOL program', '${app}.PRG' || g FROM generate_series(1, 20000) g;
SQL
  mkdir -p "$work/delivery/$app/v5/src"
  for i in $(seq 1 50); do
    printf 'IDENTIFICATION DIVISION.\nPROGRAM-ID. PRG%s.\nPROCEDURE DIVISION.\n    DISPLAY "%s %s".\n' "$i" "$app" "$i" > "$work/delivery/$app/v5/src/PRG$i.cob"
  done
done
psql -q -d aip -c "CREATE SCHEMA aip_measure; CREATE TABLE aip_measure.app_snapshots (app text, taken date, grade numeric(4,2)); ANALYZE;"

step "write the configuration"
mkdir -p "$work/config"
cat > "$work/config/estate.hcl" <<HCL
variable "css_password" {
  type      = string
  sensitive = true
}

database "css" {
  host     = "127.0.0.1"
  port     = $port
  user     = "postgres"
  password = var.css_password
  dbname   = "aip"
}

store "node" {
  local { path = "$work/backups" }
}

retention "standard" {
  keep_last  = 3
  keep_daily = 7
}

application "estate" {
  for_each = toset(["shop", "billing"])

  database        = database.css
  schemas         = { management = "\${each.key}_mngt", dashboard = "\${each.key}_central", analysis = "\${each.key}_local" }
  delivery_folder = "$work/delivery/\${each.key}"
  options {
    source_path        = "$work/delivery/\${each.key}/v5"
    exclusion_patterns = ["**/test/**"]
    objectives         = ["security"]
  }
  every     = "24h"
  retention = retention.standard
  stores    = [store.node]
}

measurement "health" {
  database = database.css
  schema   = "aip_measure"
  every    = "168h"
  stores   = [store.node]
}
HCL
export PLANB_VAR_css_password=$password
cat "$work/config/estate.hcl"

step "planb validate"
planb validate
step "planb plan"
planb plan --out "$work/backup.plan" || true
step "planb apply backup.plan"
planb apply "$work/backup.plan"
step "planb list"
planb list
step "planb verify"
planb verify
step "planb plan (nothing to do now)"
planb plan --detailed-exitcode
echo "zip check of one archive:"
unzip -t "$(ls "$work"/backups/applications/shop/*.zip | head -1)" | tail -1

step "damage: rows changed, a table dropped, a source file overwritten"
psql -q -d aip -c "UPDATE shop_mngt.versions SET name = 'oops'; DROP TABLE shop_central.snapshots;"
echo "overwritten" > "$work/delivery/shop/v5/src/PRG1.cob"
psql -d aip -Atc "SELECT 'shop_mngt.versions names now: ' || string_agg(DISTINCT name, ',') FROM shop_mngt.versions"

step "planb plan --restore application.estate[\"shop\"] --out restore.plan (review it)"
planb plan --restore 'application.estate["shop"]' --out "$work/restore.plan"
step "planb apply restore.plan"
planb apply "$work/restore.plan"

step "after the restore"
psql -d aip -Atc "SELECT 'shop_mngt.versions names: ' || string_agg(name, ',' ORDER BY id) FROM shop_mngt.versions"
psql -d aip -Atc "SELECT 'shop_central.snapshots rows: ' || count(*) FROM shop_central.snapshots"
head -2 "$work/delivery/shop/v5/src/PRG1.cob"
planb list
step "demo complete"
