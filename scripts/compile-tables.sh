#!/usr/bin/env bash
# Regenerates the README's compilation tables (section "What a trial costs"):
#   1. three trials of the post-training default study (a spec without training: the
#      `study best` picks within 1, 5 and 10 points of float accuracy), evaluated by `fhetune eval` at the revision BEFORE
#      (default fcaccbc, the last one before the compilation followed Concrete ML) and at
#      the working tree with exact and with approximate rounding: bootstraps, latency
#      (working tree only: each revision prices with its own built-in profile) and
#      accuracy;
#   2. one rounded TLU (10-bit accumulator, log2 norm2 4, p_error 1e-5) against the bits
#      rounding removes, exact and approximate, by `fhetune params`.
# Prints Markdown on stdout. Needs git, go and jq; takes about a minute after the builds.
set -euo pipefail
cd "$(dirname "$0")/.."
before=${BEFORE:-fcaccbc}
tmp=$(mktemp -d)
cleanup() { git worktree remove --force "$tmp/old" >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT
git worktree add -q --detach "$tmp/old" "$before"
(cd "$tmp/old" && go build -o "$tmp/fhetune-before" ./cmd/fhetune)
go build -o "$tmp/fhetune" ./cmd/fhetune
export XDG_CACHE_HOME="$tmp/cache" # both revisions train and share the same eval model
new=("$tmp/fhetune" --db "$tmp/new.db")
old=("$tmp/fhetune-before" --db "$tmp/old.db")
# The post-training default study: a spec file without training searches what the
# built-in default study searched before quantization-aware training joined it.
printf 'name: default\n' >"$tmp/ptq.yaml"
"${new[@]}" study start --spec "$tmp/ptq.yaml" >/dev/null 2>&1

# The revision before carries the built-in profile of its day, so its milliseconds are
# not comparable with today's: the before column gives bootstraps and accuracy only.
echo "| trial (knobs) | before: PBS, accuracy | after, exact rounding: PBS, ms, accuracy | after, approximate rounding |"
echo "| --- | --- | --- | --- |"
row() { jq -r '"\(.pbs_count) PBS, \(.latency_ms*10|round/10) ms, \(.accuracy*10000|round/10000)"' <<<"$1"; }
row_before() { jq -r '"\(.pbs_count) PBS, \(.accuracy*10000|round/10000)"' <<<"$1"; }
for drop in 0.01 0.05 0.10; do
  best=$("${new[@]}" study best default --max-accuracy-drop "$drop" --json)
  trial=$(jq -r .trial <<<"$best")
  args=$(jq -r '.knobs | "--n-w-bits \(.n_w_bits) --n-a-bits \(.n_a_bits) --pruning \(.pruning) --p-error \(.p_error)"
    + (if .rounding_threshold_bits then " --rounding-threshold-bits \(.rounding_threshold_bits)" else "" end)' <<<"$best")
  # shellcheck disable=SC2086
  a=$("${old[@]}" eval --dataset digits --model mlp $args --json 2>/dev/null)
  # shellcheck disable=SC2086
  e=$("${new[@]}" eval --dataset digits --model mlp $args --rounding-method exact --json 2>/dev/null)
  # shellcheck disable=SC2086
  x=$("${new[@]}" eval --dataset digits --model mlp $args --rounding-method approximate --json 2>/dev/null)
  knobs=$(jq -r '.knobs | "w\(.n_w_bits) a\(.n_a_bits) pruning \(.pruning*100|round/100) rounding \(.rounding_threshold_bits // "off") \(.rounding_method // "exact")"' <<<"$best")
  printf '| %s (%s, p_error %.3g) | %s | %s | %s |\n' "$trial" "$knobs" "$(jq .knobs.p_error <<<"$best")" "$(row_before "$a")" "$(row "$e")" "$(row "$x")"
done

echo
echo "| bits removed | TLU bits | exact: bootstraps | exact: set | exact ms | approximate: set | approximate ms |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for p in 10 9 8 7 6 5 4 3 2; do
  q=(params --precision "$p" --accumulator-bits 10 --log2-norm2 4 --p-error 1e-5 --json)
  e=$("${new[@]}" "${q[@]}" --rounding-method exact)
  x=$("${new[@]}" "${q[@]}" --rounding-method approximate)
  set_of() { jq -r '"k=\(.glwe_dimension) N=2^\(.log2_polynomial_size) n=\(.lwe_dimension)"' <<<"$1"; }
  printf '| %d | %d | %d | %s | %.1f | %s | %.1f |\n' $((10 - p)) "$p" "$(jq .bootstraps <<<"$e")" "$(set_of "$e")" \
    "$(jq .predicted_ms <<<"$e")" "$(set_of "$x")" "$(jq .predicted_ms <<<"$x")"
done
