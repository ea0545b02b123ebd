# Shared by the benchmark scripts (scripts/bench-*): how they build, and the
# header every run prints so that a figure carries what it was measured with.
# Source it after services.sh; it defines functions only.
#
# Knobs every benchmark reads from the environment:
#   BENCH_QUICK=1      small sizes and short windows: a check that the script
#                      works and prints what it should, not a figure to publish
#   BENCH_PROFILE=dev  build with the dev profile instead of release (a check
#                      on a machine without a release build; not a figure either)

# The cargo profile the benchmarks are built with.
bench_profile() {
  echo "${BENCH_PROFILE:-release}"
}

# Where cargo puts the binaries of that profile.
bench_bin_dir() {
  local profile
  profile=$(bench_profile)
  [ "$profile" = dev ] && profile=debug
  echo "${CARGO_TARGET_DIR:-target}/$profile"
}

# Whether this is a quick run (BENCH_QUICK=1).
bench_quick() {
  [ "${BENCH_QUICK:-0}" = 1 ]
}

# bench_header SCRIPT [KNOB...]: prints the command (with every knob that is
# set), the date, the commit, the machine, the build and the database settings
# as the running server reports them (SHOW, never assumed), and fails unless
# fsync, synchronous_commit and full_page_writes are all on: every benchmark
# here times commits or compares against them, so it runs durable. Needs the
# PG* variables pg_start_private exports.
bench_header() {
  local script=$1 knob command="" setting value settings="" durable=yes
  shift
  for knob in BENCH_QUICK BENCH_PROFILE "$@"; do
    [ -n "${!knob:-}" ] && command+="$knob=${!knob} "
  done
  echo "command: $command$script"
  echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "machine: $(nproc) cores, $(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)," \
    "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), Linux $(uname -r)"
  echo "build: $(bench_profile) profile"
  if bench_quick; then
    echo "mode: quick (BENCH_QUICK=1): small sizes, short windows; checks the benchmark, not a figure to publish"
  else
    echo "mode: full"
  fi
  for setting in server_version fsync synchronous_commit full_page_writes shared_buffers max_connections; do
    value=$(psql -X -At -d postgres -c "SHOW $setting") || return 1
    settings+="$setting=$value "
    case "$setting" in
      fsync | synchronous_commit | full_page_writes) [ "$value" = on ] || durable=no ;;
    esac
  done
  echo "database: PostgreSQL, ${settings% }"
  if [ "$durable" != yes ]; then
    echo "error: the benchmark cluster is not durable (fsync, synchronous_commit and full_page_writes must be on)" >&2
    return 1
  fi
}
