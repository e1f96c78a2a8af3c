#!/usr/bin/env bash
# Regenerates the rows of the README's Performance table (section "Performance"): runs
# each row's command, reads its result from the output (ns/op and the metrics the
# benchmarks report; the ZDT test's log; the wall time of `fhetune calibrate --quick`)
# and gives the 1-minute load average while it ran. Prints Markdown on stdout; a command
# that fails stops the script with its output on stderr. Needs go; takes about 10
# minutes on 2 idle cores, half of it the search benchmarks and the Fashion-MNIST QAT run. With --write it replaces the
# table in README.md, between the lines "<!-- begin performance: ... -->" and
# "<!-- end performance -->", instead.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
write=0
if [ "${1:-}" = --write ]; then
  write=1
  grep -q '^<!-- begin performance: ' README.md && grep -q '^<!-- end performance -->$' README.md || {
    echo "perf-table: README.md lacks the performance markers" >&2
    exit 1
  }
  exec 3>&1 >"$tmp/table.md"
fi

out=""  # the output of the last command run
load="" # the load average while it ran
runs=0

loadavg() { cut -d' ' -f1 /proc/loadavg; }

# loadText A B: the load averages A (before) and B (after) as the table gives them.
loadText() {
  awk -v a="$1" -v b="$2" 'BEGIN {
    if (a > b) { t = a; a = b; b = t }
    if (b - a < 0.5) printf "load ≈ %.1f", (a + b) / 2; else printf "load %.1f–%.1f", a, b }'
}

# run CMD: runs the command line CMD (as the table shows it), keeping its output in
# $out and the load average in $load.
run() {
  runs=$((runs + 1))
  out="$tmp/$runs.txt"
  local l0
  l0=$(loadavg)
  if ! bash -c "$1" >"$out" 2>&1; then
    cat "$out" >&2
    echo "perf-table: failed: $1" >&2
    exit 1
  fi
  load=$(loadText "$l0" "$(loadavg)")
}

# get VAR NAME UNIT [PKG]: sets VAR to the value in UNIT that benchmark NAME (without
# its -GOMAXPROCS suffix) reported in $out, in the package whose import path ends in PKG
# if given; stops the script if there is none.
get() {
  local got
  got=$(awk -v name="$2" -v unit="$3" -v pkg="${4:-}" '
    /^pkg: / { cur = $2 }
    ($1 == name || (index($1, name "-") == 1 && substr($1, length(name) + 2) ~ /^[0-9]+$/)) &&
      (pkg == "" || substr(cur, length(cur) - length(pkg) + 1) == pkg) {
      for (i = 3; i < NF; i += 2) if ($(i + 1) == unit) { print $i; found = 1; exit }
    }
    END { if (!found) exit 1 }' "$out") || {
    cat "$out" >&2
    echo "perf-table: no $3 for $2 in the output above" >&2
    exit 1
  }
  printf -v "$1" %s "$got"
}

# span LO HI PREFIX UNIT: sets LO and HI to the least and the greatest value in UNIT over
# the benchmarks whose name starts with PREFIX.
span() {
  local got
  got=$(awk -v prefix="$3" -v unit="$4" '
    index($1, prefix) == 1 {
      for (i = 3; i < NF; i += 2) if ($(i + 1) == unit) {
        x = $i + 0
        if (!n++) lo = hi = x
        if (x < lo) lo = x
        if (x > hi) hi = x
      }
    }
    END { if (!n) exit 1; print lo, hi }' "$out") || {
    cat "$out" >&2
    echo "perf-table: no $4 for $3* in the output above" >&2
    exit 1
  }
  read -r "$1" "$2" <<<"$got"
}

# dur NS: a duration given in ns, to three significant figures in ns, µs, ms or s.
dur() {
  awk -v x="$1" 'BEGIN {
    split("ns µs ms s", u, " ")
    i = 1
    while (x >= 1000 && i < 4) { x /= 1000; i++ }
    printf "%s %s", sig(x), u[i] }
  function sig(v) { return v >= 100 ? sprintf("%.0f", v) : v >= 10 ? sprintf("%.1f", v) : sprintf("%.2f", v) }'
}
ms() { dur "$(awk -v x="$1" 'BEGIN { printf "%.0f", x * 1e6 }')"; } # ms → text
secs() { dur "$(awk -v x="$1" 'BEGIN { printf "%.0f", x * 1e9 }')"; } # s → text
fix() { awk -v x="$1" -v d="$2" 'BEGIN { printf "%.*f", d, x }'; }   # X with D decimals
pct() { awk -v x="$1" -v d="$2" 'BEGIN { printf "%.*f%%", d, 100 * x }'; }
commas() { # X rounded, with thousands separators
  awk -v x="$1" 'BEGIN {
    s = sprintf("%.0f", x); r = ""
    while (length(s) > 3) { r = "," substr(s, length(s) - 2) r; s = substr(s, 1, length(s) - 3) }
    print s r }'
}

row() { echo "| $1 | $2 | $3 | $4 |"; } # what, command, result, goal

echo "| what | command | result | goal |"
echo "| --- | --- | --- | --- |"

c="go test -run '^\$' -bench Complete -benchtime 3000x -cpu 1 ./studies/"
run "$c"
get v BenchmarkComplete/front=random completions/s
rnd=$(commas "$v")
get v BenchmarkComplete/front=64 completions/s
f64=$(commas "$v")
row "trial completions with the Pareto update, one core" "\`$c\`" "$rnd/s (random values), $f64/s (64-member front), $load" "≥ 2,000/s"

c="go test ./fhe/ -run '^\$' -bench . -cpu 1"
run "$c"
span lo hi BenchmarkOptimize/uncached/ ns/op
lo=$(dur "$lo")
hi=$(dur "$hi")
get v BenchmarkOptimize/cold/bits=4 ns/op
cold=$(dur "$v")
get v BenchmarkOptimize/table/bits=1..8/log2norm2=0..30 ns/op
table=$(dur "$v")
get v BenchmarkOptimize/cached ns/op
cached=$(dur "$v")
get allocs BenchmarkOptimize/cached allocs/op
row "parameter optimizer, one uncached query" "\`$c\`" "$lo – $hi ($cold from a cold start), $load" "< 20 ms"
row "whole table, precision 1..8 × log2 norm2 0..30" "same" "$table" "< 0.5 s"
row "cached query" "same" "$cached, $allocs allocations" "< 1 µs"

c="go test ./fhe -run '^\$' -bench Graph -cpu 1"
run "$c"
get v BenchmarkGraph/chain3/p_error=1e-6 ns/op
g3=$(dur "$v")
get v BenchmarkGraph/chain3/global_p_error=0.01 ns/op
g3g=$(dur "$v")
get v BenchmarkGraph/chain2/p_error=1e-6 ns/op
g2=$(dur "$v")
get v BenchmarkGraph/chain2/global_p_error=0.01 ns/op
g2g=$(dur "$v")
get v BenchmarkGraph/cached ns/op
gc=$(dur "$v")
row "joint sets of a circuit (3 partitions, 10 decodings; 2 partitions), p_error 1e-6 / global_p_error 0.01, one core" "\`$c\`" \
  "3 partitions $g3 / $g3g, 2 partitions $g2 / $g2g, cached $gc, $load" "< 100 ms"

c="go test ./fhe/calibration -run '^\$' -bench KeySwitchBetween"
run "$c"
get v BenchmarkKeySwitchBetween between-model/measured
between=$(fix "$v" 2)
get v BenchmarkKeySwitchBetween atomic-terms/measured
atomic=$(fix "$v" 2)
row "keyswitch between keys: price fitted to one pair, predicting another" "\`$c\`" \
  "$between × measured (the atomic-pattern terms of the default profile: $atomic ×), $load" "within ±40%"

c="go test -run '^\$' -bench TrainDigitsMLP -cpu 1 ./tuner/model"
run "$c"
get v BenchmarkTrainDigitsMLP ns/op
t=$(dur "$v")
get v BenchmarkTrainDigitsMLP test_acc
acc=$(pct "$v" 1)
row "digits MLP training to ≥ 95%, one core" "\`$c\`" "$t, $acc, $load" "< 5 s"

c="go test -run '^\$' -bench TrainFashionMLP -benchtime 1x ./tuner/model"
run "$c"
get v BenchmarkTrainFashionMLP ns/op
t=$(dur "$v")
get v BenchmarkTrainFashionMLP test_acc
acc=$(pct "$v" 2)
row "Fashion-MNIST MLP 784-128-128-10, 5 epochs" "\`$c\`" "$t, $acc, $load" "≥ 86% in < 90 s"

c="go test -run '^\$' -bench ForwardFashion -benchtime 10x ./tuner/model"
run "$c"
get v BenchmarkForwardFashion/interleaved ratio
ratio=$(fix "$v" 3)
row "forward pass over 10,000 Fashion-MNIST images vs the bare Dgemm chain" "\`$c\`" "ratio $ratio, $load" "≤ 1.5"

c="go test -run '^\$' -bench LoadFashionMNIST -benchtime 5x ./tuner/dataset"
run "$c"
get v BenchmarkLoadFashionMNIST ns/op
t=$(dur "$v")
row "Fashion-MNIST load (70k images to float64)" "\`$c\`" "$t, $load" "—"

c="go test ./tuner -run '^\$' -bench EvaluateDigits -benchtime 10x"
run "$c"
get v BenchmarkEvaluateDigits ns/op
t=$(dur "$v")
row "one digits eval (model given: compile, joint parameters, simulation, latency)" "\`$c\`" "$t, $load" "< 50 ms"

c="go test ./tuner -run '^\$' -bench FashionSimulate -benchtime 10x"
run "$c"
get v BenchmarkFashionSimulate sim-ms
sim=$(ms "$v")
get v BenchmarkFashionSimulate gemm-ms
gemm=$(ms "$v")
get v BenchmarkFashionSimulate sim/gemm
ratio=$(fix "$v" 2)
row "simulated accuracy of the Fashion-MNIST MLP, 10,000 test images, vs its float64 GEMM chain" "\`$c\`" \
  "$sim vs $gemm: ratio $ratio, $load" "≤ 1.5"

go build -o "$tmp/fhetune" ./cmd/fhetune
l0=$(loadavg)
t0=$(date +%s%N)
if ! "$tmp/fhetune" --db "$tmp/c.db" calibrate --quick >"$tmp/calibrate.txt" 2>&1; then
  cat "$tmp/calibrate.txt" >&2
  echo "perf-table: failed: fhetune calibrate --quick" >&2
  exit 1
fi
t=$(dur "$(($(date +%s%N) - t0))")
held=$(sed -n 's/^held-out error: median \([0-9.]*%\), worst \([0-9.]*%\) over \([0-9]*\) sets.*/median \1, worst \2 over \3 held-out sets/p' "$tmp/calibrate.txt")
if [ -z "$held" ]; then
  echo "perf-table: no held-out error in the output of fhetune calibrate --quick" >&2
  exit 1
fi
row "\`fhetune calibrate --quick\`: time, and the model's error on sets it was not fitted to" "\`time fhetune --db /tmp/c.db calibrate --quick\`" "$t; $held, $(loadText "$l0" "$(loadavg)")" "< 60 s; median ≤ 8%, worst ≤ 20%"

c="go test ./tuner -run '^\$' -bench DefaultStudy -benchtime 5x"
run "$c"
get v BenchmarkDefaultStudy/workers=1 trials/min
tpm1=$(commas "$v")
get v BenchmarkDefaultStudy/workers=2 trials/min
tpm2=$(commas "$v")
get v BenchmarkDefaultStudy/workers=1 ms/study
study=$(ms "$v")
get v BenchmarkDefaultStudy/workers=1 pct_outside_eval
out1=$(fix "$v" 1)
get v BenchmarkDefaultStudy/workers=2 pct_outside_eval
out2=$(fix "$v" 1)
row "study throughput (the post-training default study: 60 trials, digits)" "\`$c\`" \
  "$tpm1 trials/min with 1 worker ($study a study), $tpm2/min with 2; $out1% and $out2% of a trial's time outside eval, $load" "< 5% outside eval"

c="go test ./tuner -run '^\$' -bench SearchPTQ -benchtime 1x"
run "$c"
hv=()
for k in parego nsga2 nsga2_sweep random; do
  get v BenchmarkSearchPTQ "pct_hv_$k"
  hv+=("$(fix "$v" 1)")
done
row "search, post-training default study: share of the hypervolume of 3,000 random trials that 60 trials reach, mean of 8 seeds" "\`$c\`" \
  "ParEGO ${hv[0]}%, NSGA-II ${hv[1]}% (with the two-level sweep ${hv[2]}%), random search ${hv[3]}%, $load" "≥ 98%, ≥ 2 points above random"

c="go test ./tuner -run '^\$' -bench SearchQAT -benchtime 1x"
run "$c"
get v BenchmarkSearchQAT trainings_plain
tp=$(fix "$v" 1)
get v BenchmarkSearchQAT trainings_default
td=$(fix "$v" 1)
q=()
for k in hv_plain hv_default_same_trainings hv_default_half_trainings hv_plain_half_trainings; do
  get v BenchmarkSearchQAT "$k"
  q+=("$(fix "$v" 3)")
done
row "search, quantization-aware digits space: hypervolume per training, mean of 4 seeds (plain: NSGA-II, one trial a network, no pruner, 40 trials; default: ParEGO, sweep, dominated pruner, 60 trials)" "\`$c\`" \
  "plain ${q[0]} after $tp trainings; default ${q[1]} at $tp trainings, ${q[2]} at half (plain at half: ${q[3]}); default used $td, $load" "the same hypervolume with ≤ half the trainings"

c="go test ./tuner -run '^\$' -bench BuiltInStudy -benchtime 1x"
run "$c"
get v BenchmarkBuiltInStudy s/study
bs=$(fix "$v" 1)
get v BenchmarkBuiltInStudy trainings
bt=$(fix "$v" 0)
get v BenchmarkBuiltInStudy pruned_trainings
bp=$(fix "$v" 0)
row "built-in default study (\`fhetune study start\`: 60 trials, post-training and quantization-aware, 2 workers), base model given" "\`$c\`" \
  "$bs s, $bt quantization-aware trainings ($bp pruned), $load" "< 1 minute"

# The PostgreSQL rows need a server: FHETUNE_TEST_POSTGRES as .ci/run sets it.
if [ -z "${FHETUNE_TEST_POSTGRES:-}" ]; then
  echo "perf-table: set FHETUNE_TEST_POSTGRES to a PostgreSQL URL (see .ci/run)" >&2
  exit 1
fi
c="go test ./studies -run '^\$' -bench 'Workers|Calls|CopyStudy' -benchtime 3x"
run "FHETUNE_TEST_POSTGRES=$FHETUNE_TEST_POSTGRES $c"
get v BenchmarkWorkers/db=postgres trials/s
pg=$(commas "$v")
get v BenchmarkWorkers/db=sqlite trials/s
sq=$(commas "$v")
row "whole trials (start, knobs, heartbeat, complete) with 8 workers in 4 processes on one study, server on the same machine" \
  "\`FHETUNE_TEST_POSTGRES=postgres://... $c\`" "PostgreSQL $pg/s, SQLite $sq/s, $load" "≥ 1,000/s on PostgreSQL"
calls=()
for be in postgres sqlite; do
  per=()
  for m in starts set-params heartbeats completes; do
    get v "BenchmarkCalls/db=$be" "$m/s"
    per+=("$(commas "$v")")
  done
  calls+=("start ${per[0]}, knobs ${per[1]}, heartbeat ${per[2]}, complete ${per[3]}")
done
row "each call of a trial alone, 8 goroutines in one process (what the row above is made of)" "(the same run)" \
  "PostgreSQL: ${calls[0]}; SQLite: ${calls[1]} (calls/s)" "—"
cp=()
for k in sqlite-to-postgres postgres-to-sqlite sqlite-to-sqlite; do
  get v "BenchmarkCopyStudy/$k" s/copy
  cp+=("$(secs "$v")")
done
row "\`study copy\` of a 10,000-trial study" "(the same run)" \
  "SQLite → PostgreSQL ${cp[0]}, PostgreSQL → SQLite ${cp[1]}, SQLite → SQLite ${cp[2]}" "—"

c="go test ./tuner -run '^\$' -bench QATDigits -benchtime 1x -cpu 1"
run "$c"
get v BenchmarkQATDigits qat3_acc
q3=$(pct "$v" 1)
get v BenchmarkQATDigits qat2_acc
q2=$(pct "$v" 1)
get v BenchmarkQATDigits ptq3_acc
p3=$(pct "$v" 1)
get v BenchmarkQATDigits qat3_trial_s
ts=$(secs "$v")
row "quantization-aware training, digits MLP, mean of 3 seeds: test accuracy; one 3-bit trial on one core" "\`$c\`" \
  "$q3 at 3 bits (post-training: $p3), $q2 at 2 bits; $ts a trial, $load" "≥ 90% at 3 bits, ≥ 80% at 2"

c="go test ./tuner -run '^\$' -bench QATFashion -benchtime 1x -cpu 1 -timeout 30m"
run "$c"
get v BenchmarkQATFashion qat4_acc
q4=$(pct "$v" 1)
get v BenchmarkQATFashion float_acc
fl=$(pct "$v" 1)
get v BenchmarkQATFashion qat4_trial_s
ts=$(secs "$v")
row "quantization-aware training, Fashion-MNIST MLP at 4 bits, mean of 3 seeds; one trial on one core" "\`$c\`" \
  "$q4 against $fl float; $ts a trial, $load" "within 2 points of float"

c="go test ./search/nsga2 -run ZDT -v -count=1"
run "$c"
zdt=$(awk 'match($0, /hypervolume .*\(([0-9.]+%)\)/) {
    s = substr($0, RSTART, RLENGTH); sub(/.*\(/, "", s); sub(/\)$/, "", s)
    r = r (r == "" ? "" : " / ") s }
  END { if (r == "") exit 1; print r }' "$out") || { cat "$out" >&2; echo "perf-table: no hypervolume in the ZDT log" >&2; exit 1; }
row "NSGA-II on ZDT1 / ZDT2, 30 variables, 10,000 evaluations" "\`$c\`" "$zdt of the true front's hypervolume, $load" "≥ 95%"

c="go test -run '^\$' -bench BenchmarkRender ./report"
run "$c"
get v BenchmarkRender/formats=svg ns/op
svg=$(dur "$v")
get v BenchmarkRender/formats=png+svg ns/op
png=$(dur "$v")
row "report of a 62-trial study" "\`$c\`" "SVG $svg, PNG + SVG $png, $load" "—"

c="go test ./tuner/onnx -run '^\$' -bench Decode -benchtime 5x"
run "$c"
get v BenchmarkDecode ns/op
t=$(dur "$v")
get v BenchmarkDecode MB/s
mbs=$(fix "$v" 0)
get v BenchmarkDecode file-MB
mb=$(fix "$v" 1)
row "ONNX import of a 784-1536-1024-10 MLP ($mb MB file)" "\`$c\`" "$t ($mbs MB/s), $load" "—"

c="go test ./tuner/onnx -run '^\$' -bench ImportedForward -benchtime 5x"
run "$c"
get v BenchmarkImportedForward imported/native
ratio=$(fix "$v" 2)
row "forward pass of a CNN read from ONNX vs the same network built natively, 2,000 images" "\`$c\`" "ratio $ratio, $load" "≤ 1.1"

c="go test ./fhe/executor -run '^\$' -bench Executor -benchtime 9x"
run "$c"
get v BenchmarkExecutor executor/bare
ratio=$(fix "$v" 2)
get v BenchmarkExecutor min-ratio
lo=$(fix "$v" 2)
get v BenchmarkExecutor max-ratio
hi=$(fix "$v" 2)
get v BenchmarkExecutor executor-ms
ex=$(ms "$v")
get v BenchmarkExecutor bare-ms
bare=$(ms "$v")
row "encrypted executor against the bare tfhe-go work it does (bootstraps, keyswitches, multiply-adds timed alone right after each inference), MLP 16-12-8-4, one core: median of 9 pairs" "\`$c\`" \
  "$ratio (pairs $lo–$hi; means $ex against $bare), $load" "≤ 1.05"

c="go test -run '^\$' -bench Sample -benchmem ./search/..."
run "$c"
ns=() tpe=() pg=()
for h in 100 1000 10000; do
  get v "BenchmarkSample/history=$h/warm" ns/op search/nsga2
  ns+=("$(dur "$v")")
  get v "BenchmarkSample/history=$h" ns/op search/tpe
  tpe+=("$(dur "$v")")
  get v "BenchmarkSample/history=$h" ns/op search/parego
  pg+=("$(dur "$v")")
done
row "samplers at history 100 / 1,000 / 10,000" "\`$c\`" \
  "ParEGO ${pg[0]} / ${pg[1]} / ${pg[2]}, NSGA-II ${ns[0]} / ${ns[1]} / ${ns[2]}, TPE ${tpe[0]} / ${tpe[1]} / ${tpe[2]}, $load" "—"

if [ "$write" = 1 ]; then
  exec >&3
  awk -v table="$tmp/table.md" '
    /^<!-- begin performance: / { print; while ((getline l < table) > 0) print l; skip = 1; next }
    /^<!-- end performance -->$/ { skip = 0 }
    !skip' README.md >"$tmp/README.md"
  mv "$tmp/README.md" README.md
  echo "perf-table: README.md's performance table rewritten" >&2
fi
