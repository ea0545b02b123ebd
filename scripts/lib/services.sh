# Shared by scripts/test, scripts/run and the benchmarks: find (or install)
# PostgreSQL's server programs and run a private cluster in a directory.
# Source it; it defines functions only.

# Prints the directory holding initdb and pg_ctl: PATH first, then the newest
# /usr/lib/postgresql/*/bin.
pg_bin_dir() {
  local dir
  if dir=$(dirname "$(command -v initdb 2>/dev/null)" 2>/dev/null) && [ -x "$dir/pg_ctl" ]; then
    echo "$dir"; return 0
  fi
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then echo "$dir"; return 0; fi
  return 1
}

# Installs PostgreSQL from the OS packages when its server programs are missing.
pg_ensure_installed() {
  pg_bin_dir >/dev/null && return 0
  echo "PostgreSQL server programs not found: installing them from the OS packages" >&2
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if command -v apt-get >/dev/null; then
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql postgresql-contrib >/dev/null
  elif command -v dnf >/dev/null; then
    $sudo dnf install -y postgresql-server postgresql-contrib
  elif command -v brew >/dev/null; then
    brew install postgresql@16
  else
    echo "error: install PostgreSQL (initdb, pg_ctl) and retry" >&2; return 1
  fi
  pg_bin_dir >/dev/null || { echo "error: PostgreSQL installed but initdb not found" >&2; return 1; }
}

# Runs a PostgreSQL program as a user it accepts (never root).
_pg_as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# pg_start_private DIR [durable]: a throwaway cluster in DIR, on a Unix socket
# in DIR only (no TCP port, so it never collides with another server). Tuned
# for tests: durability off (fsync, synchronous_commit, full_page_writes), unless
# the second argument is "durable", which keeps all three on as a real server
# runs; benchmarks that time commits need that. Exports PGHOST, PGPORT, PGUSER,
# PG_BIN_DIR and TEST_DATABASE_URL.
pg_start_private() {
  local dir=$1 durable=off bin
  case "${2:-}" in
    "") ;;
    durable) durable=on ;;
    *) echo "pg_start_private: unknown mode '$2' (only 'durable')" >&2; return 1 ;;
  esac
  bin=$(pg_bin_dir) || return 1
  mkdir -p "$dir"
  chmod 755 "$dir"
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown postgres "$dir"
  fi
  _pg_as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; return 1; }
  cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$dir'
port = 5432
max_connections = 300
shared_buffers = 256MB
fsync = $durable
synchronous_commit = $durable
full_page_writes = $durable
max_locks_per_transaction = 256
log_min_messages = warning
CONF
  _pg_as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null \
    || { cat "$dir/server.log" >&2; return 1; }
  export PGHOST="$dir" PGPORT=5432 PGUSER=postgres PG_BIN_DIR="$bin"
  export TEST_DATABASE_URL="postgresql:///postgres?host=$dir&port=5432&user=postgres"
}

# pg_stop_private DIR: stops the cluster and deletes DIR.
pg_stop_private() {
  local dir=$1 bin
  bin=$(pg_bin_dir) || return 0
  [ -f "$dir/data/postmaster.pid" ] && _pg_as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1
  rm -rf "$dir"
}

# Installs redis-server from the OS packages when missing (the tests start
# their own instances of it).
redis_ensure_installed() {
  command -v redis-server >/dev/null && return 0
  echo "redis-server not found: installing it from the OS packages" >&2
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if command -v apt-get >/dev/null; then
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server >/dev/null
  elif command -v dnf >/dev/null; then
    $sudo dnf install -y redis
  elif command -v brew >/dev/null; then
    brew install redis
  fi
  command -v redis-server >/dev/null || { echo "error: install redis-server and retry" >&2; return 1; }
}
