#!/usr/bin/env bash
# Regenerates the README's quantization-aware training tables (section
# "Quantization-aware training"):
#   1. the digits MLP (mlp:64,64, seed 1) at 2, 3 and 4 bits (n_w_bits = n_a_bits =
#      n_input_bits) with post-training quantization, quantization-aware training, and
#      quantization-aware training with power-of-two scaling: accuracy, the TLU bits of
#      each layer (accumulator bits → TLU bits where the power-of-two pass rounds),
#      bootstraps and latency, by `fhetune eval` (p_error 1e-3, the built-in profile);
#   2. the default study's front against the same study with post-training quantization
#      only, drawn by `fhetune report default --compare ptq` into docs/pareto-qat.png,
#      and the default study's own plot, `fhetune report default`, into docs/pareto.png.
# Prints Markdown on stdout; with --write, also replaces the table between the README's
# "begin qat" and "end qat" markers and rewrites both plots. Needs go and jq;
# takes about two minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/fhetune" ./cmd/fhetune
export XDG_CACHE_HOME="$tmp/cache"
f=("$tmp/fhetune" --db "$tmp/s.db")

table() {
  echo "| bits | training | accuracy | TLU bits per layer (accumulator → TLU) | bootstraps | latency ms |"
  echo "| --- | --- | --- | --- | --- | --- |"
  for b in 2 3 4; do
    for t in ptq qat qat-pot; do
      args=(--n-w-bits "$b" --n-a-bits "$b" --n-input-bits "$b" --p-error 1e-3)
      case $t in
        qat) args+=(--training qat) ;;
        qat-pot) args+=(--training qat --power-of-two-scaling) ;;
      esac
      r=$("${f[@]}" eval --dataset digits --model mlp "${args[@]}" --json 2>/dev/null) || {
        printf '| %d | %s | no circuit | | | |\n' "$b" "$t"
        continue
      }
      layers=$(jq -r '[.layers[] | select(.tlu_count > 0) |
        if .lsbs_removed > 0 then "\(.accumulator_bits) → \(.tlu_bits)" else "\(.tlu_bits)" end] | join(", ")' <<<"$r")
      printf '| %d | %s | %s | %s | %s | %s |\n' "$b" "${t/qat-pot/qat, power of two}" \
        "$(jq -r '.accuracy*10000|round/10000' <<<"$r")" "$layers" "$(jq -r .pbs_count <<<"$r")" \
        "$(jq -r '.latency_ms*10|round/10' <<<"$r")"
    done
  done
}
out=$(table)
echo "$out"

if [ "${1:-}" = --write ]; then
  "${f[@]}" study start >/dev/null 2>&1
  "${f[@]}" study start --name ptq --training ptq >/dev/null 2>&1
  "${f[@]}" report default --compare ptq --format png --out "$tmp/report" >/dev/null
  cp "$tmp/report/pareto.png" docs/pareto-qat.png
  "${f[@]}" report default --format png --out "$tmp/plain" >/dev/null
  cp "$tmp/plain/pareto.png" docs/pareto.png
  begin='<!-- begin qat: scripts/qat-tables.sh --write -->'
  end='<!-- end qat -->'
  OUT="$out" python3 - "$begin" "$end" <<'PY'
import os, sys
begin, end = sys.argv[1], sys.argv[2]
s = open("README.md").read()
i, j = s.index(begin) + len(begin), s.index(end)
open("README.md", "w").write(s[:i] + "\n" + os.environ["OUT"] + "\n" + s[j:])
PY
fi
