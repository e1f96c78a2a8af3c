#!/usr/bin/env bash
# Regenerates the README's table of crypto sets chosen by calibrated milliseconds against
# Concrete's choice (section "Crypto sets by milliseconds: --cost"), over Concrete's v0
# cells: precision 1..8 × log2 norm2 0..30 at Concrete's reference p_error 6.334e-5
# (the "target p_error: 6.3e-5" of compilers/concrete-optimizer/v0-parameters/ref/
# v0_last_128), 128-bit security and dot products of 4096 terms, as `fhetune params
# --table` answers them with --cost complexity (Concrete's sets) and --cost ms. Both are
# priced by the built-in calibration profile (a fresh database holds no other): the
# milliseconds of one TLU on one core, its 4096-term dot product, keyswitch and
# bootstrap, which is what --cost ms minimizes. Prints Markdown on stdout: the speed-up
# per precision, the sets at log2 norm2 0, and every cell where the sets differ. Stops
# with an error if a cell's set by ms is predicted slower than Concrete's (it cannot be:
# the search is exact). With --write it replaces the table in README.md, between the
# lines "<!-- begin cost: ... -->" and "<!-- end cost -->", instead. Needs go and jq;
# takes a few seconds after the build.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
write=0
if [ "${1:-}" = --write ]; then
  write=1
  grep -q '^<!-- begin cost: ' README.md && grep -q '^<!-- end cost -->$' README.md || {
    echo "cost-table: README.md lacks the cost markers" >&2
    exit 1
  }
fi
go build -o "$tmp/fhetune" ./cmd/fhetune
f=("$tmp/fhetune" --db "$tmp/none.db")
"${f[@]}" params --table --max-precision 8 --max-log2-norm2 30 --cost complexity --json >"$tmp/complexity.json"
"${f[@]}" params --table --max-precision 8 --max-log2-norm2 30 --cost ms --json >"$tmp/ms.json"

# One record per cell that Concrete's choice serves: both sets and their milliseconds.
jq -s '
  def set: "k=\(.glwe_dimension) N=2^\(.log2_polynomial_size) n=\(.lwe_dimension) br=\(.br_level)x\(.br_log2_base) ks=\(.ks_level)x\(.ks_log2_base)";
  [.[0].rows, .[1].rows] | transpose | map(select(.[0].solution != null)) | map({
    precision: .[0].precision, log2_norm2: .[0].log2_norm2,
    c_set: (.[0].solution | set), c_ms: .[0].solution.tlu_ms,
    m_set: (if .[1].solution then .[1].solution | set else null end), m_ms: .[1].solution.tlu_ms,
    runs: (.[0].solution.lwe_dimension <= (.[0].solution.glwe_dimension * pow(2; .[0].solution.log2_polynomial_size)))
  }) | map(. + {speedup: (if .m_ms then .c_ms / .m_ms else null end)})' \
  "$tmp/complexity.json" "$tmp/ms.json" >"$tmp/cells.json"

bad=$(jq -r '.[] | select(.runs and (.m_ms == null or .m_ms > .c_ms)) | "precision \(.precision), log2 norm2 \(.log2_norm2)"' "$tmp/cells.json")
if [ -n "$bad" ]; then
  echo "cost-table: the set by ms is missing or predicted slower than Concrete's at:" >&2
  echo "$bad" >&2
  exit 1
fi

table() {
  local machine
  machine=$(jq -r '"\(.machine.cpu), \(.machine.cores) cores, tfhe-go \(.tfhe_go)"' fhe/calibration/default_profile.json)
  jq -r --arg machine "$machine" '
    def median: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
      else (.[length / 2 - 1] + .[length / 2]) / 2 end;
    def fixed(d): (. * pow(10; d) | round | tostring) as $s
      | (if ($s | length) <= d then ("0" * (d - ($s | length) + 1)) + $s else $s end) as $p
      | $p[0:($p | length) - d] + "." + $p[($p | length) - d:];
    def x: "×" + fixed(3);
    def ms: fixed(1);
    def top: if .speedup > 1 then "\(.speedup | x) (\(.log2_norm2))" else "—" end;
    map(select(.speedup != null)) as $cells |
    "Predicted by the built-in calibration profile (\($machine)); p_error 6.334e-5, 128 bits, sum size 4096; one TLU on one core (dot product, keyswitch, bootstrap).",
    "",
    "| precision | v0 cells | cells where ms picks another set | median speed-up | largest speed-up (log2 norm2) |",
    "| --- | --- | --- | --- | --- |",
    ($cells | group_by(.precision)[] |
      "| \(.[0].precision) | \(length) | \(map(select(.m_set != .c_set)) | length) | \(map(.speedup) | median | x) | \(max_by(.speedup) | top) |"),
    "| **1..8** | **\($cells | length)** | **\($cells | map(select(.m_set != .c_set)) | length)** | **\($cells | map(.speedup) | median | x)** | \($cells | max_by(.speedup) | "\(.speedup | x) (\(.precision) bits, \(.log2_norm2))") |",
    "",
    "At log2 norm2 0, the first cell of each precision:",
    "",
    "| precision | Concrete'\''s set (complexity) | ms | set by ms | ms | speed-up |",
    "| --- | --- | --- | --- | --- | --- |",
    ($cells[] | select(.log2_norm2 == 0) |
      "| \(.precision) | \(.c_set) | \(.c_ms | ms) | \(if .m_set == .c_set then "same" else .m_set end) | \(.m_ms | ms) | \(.speedup | x) |"),
    "",
    "<details><summary>Every v0 cell where the sets differ (\($cells | map(select(.m_set != .c_set)) | length) of \($cells | length))</summary>",
    "",
    "| precision | log2 norm2 | Concrete'\''s set (complexity) | ms | set by ms | ms | speed-up |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    ($cells[] | select(.m_set != .c_set) |
      "| \(.precision) | \(.log2_norm2) | \(.c_set) | \(.c_ms | ms) | \(.m_set) | \(.m_ms | ms) | \(.speedup | x) |"),
    "",
    "</details>"' "$tmp/cells.json"
}
out=$(table)

if [ "$write" = 1 ]; then
  printf '%s\n' "$out" >"$tmp/table.md"
  awk -v table="$tmp/table.md" '
    /^<!-- begin cost: / { print; while ((getline l < table) > 0) print l; skip = 1; next }
    /^<!-- end cost -->$/ { skip = 0 }
    !skip' README.md >"$tmp/README.md"
  cp "$tmp/README.md" README.md
  echo "cost-table: README.md's cost table rewritten" >&2
else
  printf '%s\n' "$out"
fi
