#!/usr/bin/env bash
# Validates every planb configuration under a folder (default: backups):
# each folder holding *.hcl files other than *.vars.hcl is one
# configuration. A *.vars.hcl file (per-node variables, as in
# examples/fleet/nodes/) is validated with the configuration of the folder
# above its own, once per file. Offline: no database, store or secret.
#
#   bash validate-all.sh [ROOT]
#
# With ANNOTATE=github, problems are also printed as GitHub Actions
# annotations (needs jq). Exits 1 when any configuration is invalid.
set -uo pipefail
root=${1:-backups}
planb=${PLANB:-planb}
status=0

check() { # check DIR [--var-file FILE]
  local out
  echo "== $*"
  if out=$("$planb" validate --json --chdir "$@"); then
    return 0
  fi
  status=1
  if [ "${ANNOTATE:-}" = github ]; then
    jq -r '.diagnostics[] | "::error file=\(.range.filename // ""),line=\(.range.start.line // 1),col=\(.range.start.column // 1)::\(.summary): \(.detail)"' <<<"$out"
  fi
  "$planb" validate --chdir "$@" || true
}

while IFS= read -r dir; do
  check "$dir"
done < <(find "$root" -name '*.hcl' ! -name '*.vars.hcl' -exec dirname {} \; | sort -u)

while IFS= read -r vars; do
  check "$(dirname "$(dirname "$vars")")" --var-file "$vars"
done < <(find "$root" -name '*.vars.hcl' | sort)

exit $status
