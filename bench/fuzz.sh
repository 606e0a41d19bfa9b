#!/usr/bin/env bash
# Runs planb's fuzz targets one after another and prints a table of what each
# did. Their seed corpora already run as ordinary tests in `go test ./...`;
# this is for fuzzing proper.
#
#   bench/fuzz.sh [-t DURATION] [-p WORKERS] [-m DURATION] [-l] [TARGET...]
#
#   -t DURATION  how long each target runs (go test -fuzztime; default 5m)
#   -p WORKERS   fuzzing processes per target (go test -parallel; default 1)
#   -m DURATION  how long to minimise each new interesting input
#                (go test -fuzzminimizetime; default 10s, Go's is 60s, which
#                slow targets such as FuzzReader spend most of a short run on)
#   -l           list the targets and exit
#   TARGET       run only these targets (default: all)
#
# Logs go to $FUZZ_LOGS (default: a new temporary directory). A failing input
# is written to <package>/testdata/fuzz/<target>/ by go test: once the bug is
# fixed, commit it there, where it runs with the seed corpus. The archive
# targets write to $TMPDIR for every input; a tmpfs (TMPDIR=/dev/shm) makes
# them several times faster. Exit status 1 when a target failed.
set -euo pipefail
cd "$(dirname "$0")/.."

# Every fuzz target: name and package.
targets=(
  "FuzzLoad ./plan/config"
  "FuzzFormat ./plan/config"
  "FuzzNesting ./plan/config"
  "FuzzReader ./providers/archive"
  "FuzzExtract ./providers/archive"
  "FuzzManifest ./providers/archive"
  "FuzzParseArchiveName ./providers/store"
  "FuzzArchiveName ./providers/store"
  "FuzzOpen ./providers/store/crypt"
)

fuzztime=5m
parallel=1
minimize=10s
while getopts "t:p:m:lh" opt; do
  case $opt in
    t) fuzztime=$OPTARG ;;
    p) parallel=$OPTARG ;;
    m) minimize=$OPTARG ;;
    l)
      printf '%s\n' "${targets[@]}"
      exit 0
      ;;
    *)
      sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
      exit 2
      ;;
  esac
done
shift $((OPTIND - 1))

selected=()
for t in "${targets[@]}"; do
  name=${t%% *}
  if [ $# -eq 0 ]; then
    selected+=("$t")
    continue
  fi
  for want in "$@"; do
    [ "$want" = "$name" ] && selected+=("$t")
  done
done
if [ $# -gt 0 ] && [ ${#selected[@]} -ne $# ]; then
  echo "unknown target among: $* (bench/fuzz.sh -l lists them)" >&2
  exit 2
fi

logs=${FUZZ_LOGS:-$(mktemp -d -t planb-fuzz.XXXXXX)}
mkdir -p "$logs"
echo "fuzzing ${#selected[@]} target(s), $fuzztime each, $parallel worker(s); logs in $logs" >&2

failed=0
rows=()
for t in "${selected[@]}"; do
  name=${t%% *}
  pkg=${t#* }
  log="$logs/$name.log"
  echo "== $name ($pkg)" >&2
  status=ok
  if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize" \
    -parallel "$parallel" "$pkg" >"$log" 2>&1; then
    status=FAILED
    failed=1
    grep -E -A8 '^--- FAIL|^failure while testing seed corpus' "$log" >&2 || tail -20 "$log" >&2
  fi
  elapsed=$(grep -o 'elapsed: [0-9hms.]*' "$log" | tail -1 | cut -d' ' -f2)
  execs=$(grep -o 'execs: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  interesting=$(grep -o 'total: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  rows+=("$(printf '%-22s %-20s %8s %12s %7s  %s' "$name" "$pkg" "${elapsed:-?}" "${execs:-?}" "${interesting:-?}" "$status")")
done

# execs counts what the fuzzer reports, without the runs spent minimising;
# corpus is the number of interesting inputs, seeds included.
printf '%-22s %-20s %8s %12s %7s  %s\n' target package elapsed execs corpus result
printf '%s\n' "${rows[@]}"
exit $failed
