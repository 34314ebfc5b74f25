#!/usr/bin/env bash
# A PostgreSQL primary and a synchronous streaming standby for coop (issue 21): PostgreSQL's
# own machinery (pg_basebackup, streaming replication, synchronous_standby_names,
# pg_ctl promote), nothing of ours. README "When one machine is not enough" walks through it.
#
#   pg-replica.sh pair DIR [--primary-port 5441] [--standby-port 5442] [--sync remote_apply|on]
#                          [--database coop]
#       Both on this machine (a drill, or to try it): DIR/primary and DIR/standby, listening
#       on 127.0.0.1 only; waits until the standby is synchronous; creates the database;
#       prints the multi-host COOP_DATABASE_URL and a COOP_REPLICA_URL.
#   pg-replica.sh primary DIR --port P --listen ADDR --standby-from CIDR [--sync ...]
#                             [--clients-from CIDR] [--database coop]    (machine A)
#   pg-replica.sh standby DIR --port P --listen ADDR --from HOST:PORT    (machine B)
#       The same on two machines. Set COOP_REPLICATION_PASSWORD on both: the replication role
#       then logs in with scram-sha-256 from CIDR only (without it, only from 127.0.0.1).
#       --clients-from: coop's server may log in from there (scram-sha-256: give its role a
#       password); the standby gets the same pg_hba.conf, so it is reachable after a failover.
#   pg-replica.sh start|stop|status DIR     the node(s) in DIR
#   pg-replica.sh promote DIR               DIR/standby becomes the primary (after a failover)
#   pg-replica.sh url DIR                   the URLs of a pair
#
# synchronous_commit = remote_apply (or `on`): a COMMIT returns, and so coop acknowledges a
# deposit, only once the standby has the entry (applied, or flushed to its disk with `on`).
# The price: with the standby down, the primary's COMMITs wait until it is back (or until
# synchronous_standby_names is emptied). After a promotion never start the old primary again
# as it is: it would be a second primary. Make it a new standby of the new one.
#
# Run as root, the PostgreSQL programs run as the `postgres` user (initdb refuses root) and DIR
# is given to that user. PG_BIN chooses the programs (default: the newest
# /usr/lib/postgresql/*/bin, else pg_config --bindir).
set -euo pipefail

SLOT=standby1
ROLE=replicator

die() { echo "pg-replica: $*" >&2; exit 2; }

pg_bin() {
  if [ -n "${PG_BIN:-}" ]; then echo "$PG_BIN"; return; fi
  local newest
  newest=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$newest" ]; then echo "$newest"; return; fi
  command -v pg_config >/dev/null && { pg_config --bindir; return; }
  die "no PostgreSQL server programs found (Debian: postgresql); set PG_BIN"
}
BIN=$(pg_bin)
[ -x "$BIN/initdb" ] || die "$BIN/initdb is missing (set PG_BIN)"

# as_pg CMD...: run a PostgreSQL program as the user that owns the clusters
as_pg() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- env ${COOP_REPLICATION_PASSWORD:+PGPASSWORD="$COOP_REPLICATION_PASSWORD"} "$@"
  else
    env ${COOP_REPLICATION_PASSWORD:+PGPASSWORD="$COOP_REPLICATION_PASSWORD"} "$@"
  fi
}

own_dir() {  # own_dir DIR: make DIR, owned by the clusters' user, private
  mkdir -p "$1"
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$1"; fi
  chmod 0700 "$1"
  as_pg test -w "$1" || die "the postgres user cannot reach $1: let it through the folders above (chmod o+x)"
}

psql_at() {  # psql_at PORT SQL: one statement as the superuser over the node's socket dir
  local port=$1 sql=$2 sockets=$3
  # synchronous_commit local: the script's own statements do not wait for a standby that
  # is not there yet
  as_pg env PGOPTIONS="-c synchronous_commit=local" "$BIN/psql" -X -q -v ON_ERROR_STOP=1 \
    -h "$sockets" -p "$port" -U postgres -d postgres -tAc "$sql"
}

write_conf() {  # write_conf DATADIR LINES...: appended to the node's postgresql.conf
  local data=$1; shift
  printf '%s\n' "$@" | as_pg tee -a "$data/postgresql.conf" >/dev/null
}

make_primary() {  # make_primary DIR PORT LISTEN CIDR SYNC DATABASE [CLIENTS_CIDR]
  local dir=$1 port=$2 listen=$3 cidr=$4 sync=$5 database=$6 clients=${7:-}
  local data="$dir/primary" run="$dir/run"
  [ -e "$data" ] && die "$data exists already"
  own_dir "$dir"; own_dir "$run"
  as_pg "$BIN/initdb" -D "$data" -U postgres --auth-local=trust --auth-host=trust \
    --data-checksums >/dev/null
  write_conf "$data" \
    "# coop: primary with a synchronous standby (scripts/pg-replica.sh)" \
    "port = $port" "listen_addresses = '$listen'" "unix_socket_directories = '$run'" \
    "wal_level = replica" "max_wal_senders = 5" "max_replication_slots = 5" \
    "wal_log_hints = on" "hot_standby = on" \
    "synchronous_standby_names = 'FIRST 1 ($SLOT)'" "synchronous_commit = $sync"
  local method=trust
  [ -n "${COOP_REPLICATION_PASSWORD:-}" ] && method=scram-sha-256
  printf '%s\n' "host replication $ROLE $cidr $method" | as_pg tee -a "$data/pg_hba.conf" >/dev/null
  if [ -n "$clients" ]; then
    printf '%s\n' "host all all $clients scram-sha-256" | as_pg tee -a "$data/pg_hba.conf" >/dev/null
  elif [ "$listen" != 127.0.0.1 ] && [ "$listen" != localhost ]; then
    echo "pg-replica: only 127.0.0.1 may log in to the books: give coop's server's address" \
         "with --clients-from CIDR" >&2
  fi
  as_pg "$BIN/pg_ctl" -D "$data" -l "$dir/primary.log" -w start >/dev/null
  local password=""
  [ -n "${COOP_REPLICATION_PASSWORD:-}" ] && \
    password=" PASSWORD '${COOP_REPLICATION_PASSWORD//\'/\'\'}'"
  psql_at "$port" "CREATE ROLE $ROLE WITH REPLICATION LOGIN$password" "$run"
  psql_at "$port" "SELECT pg_create_physical_replication_slot('$SLOT')" "$run" >/dev/null
  [ -n "$database" ] && psql_at "$port" "CREATE DATABASE \"$database\"" "$run"
  echo "primary $data on port $port"
}

make_standby() {  # make_standby DIR PORT FROM_HOST FROM_PORT LISTEN
  local dir=$1 port=$2 host=$3 from_port=$4 listen=$5
  local data="$dir/standby" run="$dir/run"
  [ -e "$data" ] && die "$data exists already"
  own_dir "$dir"; own_dir "$run"
  as_pg "$BIN/pg_basebackup" -D "$data" -h "$host" -p "$from_port" -U "$ROLE" \
    -X stream -S "$SLOT" -R -c fast
  write_conf "$data" \
    "# coop: synchronous standby (scripts/pg-replica.sh)" \
    "port = $port" "listen_addresses = '$listen'" "unix_socket_directories = '$run'" \
    "# the primary knows its synchronous standby by this name: the walreceiver's" \
    "# application_name, as primary_conninfo (written by pg_basebackup -R) names none" \
    "cluster_name = '$SLOT'" "hot_standby = on" \
    "# promoted, it has no standby of its own to wait for (the primary's setting came with" \
    "# pg_basebackup: kept, every COMMIT after a failover would wait for ever)" \
    "synchronous_standby_names = ''"
  as_pg "$BIN/pg_ctl" -D "$data" -l "$dir/standby.log" -w start >/dev/null
  echo "standby $data on port $port, streaming from $host:$from_port"
}

wait_sync() {  # wait_sync PORT RUN: until the primary has its synchronous standby
  local port=$1 run=$2 state=""
  for _ in $(seq 1 300); do
    state=$(psql_at "$port" \
      "SELECT sync_state FROM pg_stat_replication WHERE application_name = '$SLOT'" "$run" || true)
    [ "$state" = sync ] && return 0
    sleep 0.1
  done
  die "the standby did not become synchronous (state '${state:-none}')"
}

port_of() { sed -n "s/^port = \([0-9]*\)$/\1/p" "$1/postgresql.conf" | tail -n 1; }

urls() {  # urls DIR: for a pair on this machine
  local dir=$1 p s db
  p=$(port_of "$dir/primary"); s=$(port_of "$dir/standby")
  db=$(cat "$dir/database" 2>/dev/null || echo coop)
  echo "COOP_DATABASE_URL=postgresql+psycopg://postgres@/$db?host=127.0.0.1:$p&host=127.0.0.1:$s&target_session_attrs=read-write&connect_timeout=3"
  echo "COOP_REPLICA_URL=postgresql+psycopg://postgres@/$db?host=127.0.0.1:$s&host=127.0.0.1:$p&target_session_attrs=prefer-standby&connect_timeout=3"
}

nodes() { for node in primary standby; do [ -d "$1/$node" ] && echo "$node"; done; true; }

command=${1:-}; shift || true
dir=${1:-}; shift || true
[ -n "$command" ] && [ -n "$dir" ] || { sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 2; }
dir=$(realpath -m "$dir")

primary_port=5441 standby_port=5442 sync=remote_apply database=coop
listen=127.0.0.1 cidr=127.0.0.1/32 from="" clients=""
while [ $# -gt 0 ]; do
  case $1 in
    --primary-port) primary_port=$2; shift 2 ;;
    --standby-port) standby_port=$2; shift 2 ;;
    --port) primary_port=$2; standby_port=$2; shift 2 ;;
    --sync) sync=$2; shift 2 ;;
    --database) database=$2; shift 2 ;;
    --listen) listen=$2; shift 2 ;;
    --standby-from) cidr=$2; shift 2 ;;
    --from) from=$2; shift 2 ;;
    --clients-from) clients=$2; shift 2 ;;
    *) die "unknown option $1" ;;
  esac
done
case $sync in on|remote_apply) ;; *) die "--sync is on or remote_apply" ;; esac

case $command in
  pair)
    make_primary "$dir" "$primary_port" 127.0.0.1 127.0.0.1/32 "$sync" "$database"
    echo "$database" > "$dir/database"
    make_standby "$dir" "$standby_port" 127.0.0.1 "$primary_port" 127.0.0.1
    wait_sync "$primary_port" "$dir/run"
    echo "the standby is synchronous (synchronous_commit = $sync)"
    urls "$dir" ;;
  primary)
    make_primary "$dir" "$primary_port" "$listen" "$cidr" "$sync" "$database" "$clients"
    echo "now on the standby's machine: pg-replica.sh standby DIR --port P --from THIS_HOST:$primary_port" ;;
  standby)
    [ -n "$from" ] || die "standby needs --from HOST:PORT (the primary)"
    make_standby "$dir" "$standby_port" "${from%:*}" "${from##*:}" "$listen" ;;
  start)
    for node in $(nodes "$dir"); do
      if [ "$node" = primary ] && [ -f "$dir/promoted" ]; then
        die "the standby was promoted: starting the old primary would make a second primary"
      fi
      as_pg "$BIN/pg_ctl" -D "$dir/$node" -l "$dir/$node.log" -w start >/dev/null
      echo "$node started"
    done ;;
  stop)
    for node in $(nodes "$dir"); do
      as_pg "$BIN/pg_ctl" -D "$dir/$node" -m fast -w stop >/dev/null || true
      echo "$node stopped"
    done ;;
  status)
    for node in $(nodes "$dir"); do
      echo "$node: $(as_pg "$BIN/pg_ctl" -D "$dir/$node" status | head -n 1)"
    done ;;
  promote)
    [ -d "$dir/standby" ] || die "no standby in $dir"
    as_pg "$BIN/pg_ctl" -D "$dir/standby" -w promote >/dev/null
    touch "$dir/promoted"
    echo "the standby is the primary now. It has no standby of its own: until one is made"
    echo "(pg-replica.sh standby DIR2 --port P --from THIS_HOST:PORT, then on this server"
    echo "ALTER SYSTEM SET synchronous_standby_names = 'FIRST 1 ($SLOT)'; SELECT pg_reload_conf();)"
    echo "the books are on this machine's disk alone" ;;
  url) urls "$dir" ;;
  *) die "unknown command $command (pair, primary, standby, start, stop, status, promote, url)" ;;
esac
