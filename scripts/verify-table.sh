#!/usr/bin/env bash
# Regenerates the README's verification table (section "Verified under encryption"):
# calibrates this machine, runs the post-training default study (a spec without
# training), verifies the `study best` picks within
# 1, 5 and 10 points of float accuracy under real encryption (SAMPLES each, default 10),
# and runs one setting at p_error 0.05 on enough samples for thousands of TLUs, and
# the same setting at p_error 1e-3 (whatever p_errors the picks have, a row for the
# agreement goal at p_error ≤ 1e-3).
# Prints Markdown on stdout. Needs go and jq; takes 10 to 20 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
samples=${SAMPLES:-10}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/fhetune" ./cmd/fhetune
export XDG_CACHE_HOME="$tmp/cache"
f=("$tmp/fhetune" --db "$tmp/v.db")
# The calibration's own errors go to stderr: they say how steady the machine was.
"${f[@]}" calibrate 2>/dev/null | grep -E '^(leave-one-out|held-out) error' >&2
# The post-training default study: a spec file without training searches what the
# built-in default study searched before quantization-aware training joined it.
printf 'name: default\n' >"$tmp/ptq.yaml"
"${f[@]}" study start --spec "$tmp/ptq.yaml" >/dev/null 2>&1

echo "| pick | knobs | latency ms predicted → measured | at the sets' speed just before | accuracy simulated → encrypted | agreement | TLU errors expected → seen |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
row() { # label, JSON of a verification, knobs text
  jq -r --arg name "$1" --arg knobs "$3" '"| \($name) | \($knobs) | \(.latency_ms_predicted*10|round/10) → \(.latency_ms_measured*10|round/10) (\(.latency_error*1000|round/10)%) | \(.latency_ms_at_set_speed*10|round/10) (\(.latency_error_at_set_speed*1000|round/10)%; sets ×\([.set_speeds[] | .measured_ms/.predicted_ms*100|round/100] | map(tostring) | join(", "))\([.set_speeds[] | select(.measured_all_cores_ms) | .measured_all_cores_ms/.predicted_all_cores_ms*100|round/100|tostring] | if length > 0 then ", on all cores ×" + join(", ") else "" end)) | \(.simulated_accuracy*10000|round/10000) → \(.encrypted_accuracy*10000|round/10000) | \(.agreement*10000|round/10000) | \(.expected_tlu_errors*100|round/100) → \(.tlu_errors) |"' <<<"$2"
}
for drop in 0.01 0.05 0.10; do
  best=$("${f[@]}" study best default --max-accuracy-drop "$drop" --json)
  trial=$(jq -r .trial <<<"$best")
  knobs=$(jq -r '.knobs | "w\(.n_w_bits) a\(.n_a_bits) pruning \(.pruning*100|round/100) rounding \(.rounding_threshold_bits // "off") \(.rounding_method // "exact"), p_error \(.p_error*1e6|round/1e6)"' <<<"$best")
  v=$("${f[@]}" study verify default --trial "$trial" --samples "$samples" --json 2>/dev/null)
  row "trial $trial (within $drop)" "$v" "$knobs"
done
# Many TLU errors: p_error 0.05 per TLU on a pruned MLP, 60 samples (about 2,800 TLUs).
k=(--n-w-bits 4 --n-a-bits 4 --n-input-bits 4 --pruning 0.65 --rounding-threshold-bits 5 --rounding-method exact --p-error 0.05)
v=$("${f[@]}" verify --dataset digits --model mlp "${k[@]}" --samples 60 --json 2>/dev/null)
row "p_error 0.05" "$v" "w4 a4 pruning 0.65 rounding 5 exact, p_error 0.05"
# The same setting at p_error 1e-3: the agreement goal (≥ 99% at p_error ≤ 1e-3).
k[-1]=0.001
v=$("${f[@]}" verify --dataset digits --model mlp "${k[@]}" --samples 30 --json 2>/dev/null)
row "p_error 0.001" "$v" "w4 a4 pruning 0.65 rounding 5 exact, p_error 0.001"
