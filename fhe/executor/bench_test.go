package executor

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/fhetune/fhetune/fhe"
	"github.com/fhetune/fhetune/fhe/calibration"
	"github.com/fhetune/fhetune/fhe/circuit"
	"github.com/sp301415/tfhe-go/tfhe"
	"gonum.org/v1/gonum/mat"
)

// BenchmarkExecutor runs a small circuit (MLP 16-12-8-4, 3-bit TLUs, exact rounding) on
// one core and compares its time with the bare tfhe-go work it does: every bootstrap of
// each partition (keyswitch + blind rotation + extraction), every keyswitch between
// partitions, and every multiply-add of the levelled dot products, timed alone with
// the same keys, after each inference. It reports their ratio (goal: at most 1.05) and
// fails past 1.5: both are timed on one core at the same moments, so load alone does not
// move them that far apart.
func BenchmarkExecutor(b *testing.B) {
	rng := rand.New(rand.NewPCG(91, 92))
	lin := func(out, in int) *circuit.Linear {
		l := &circuit.Linear{Out: out, In: in, W: make([]float64, out*in), B: make([]float64, out)}
		for i := range l.W {
			l.W[i] = rng.NormFloat64() / math.Sqrt(float64(in))
		}
		return l
	}
	net := &circuit.Network{InSize: 16, Layers: []circuit.Layer{lin(12, 16), circuit.ReLU{}, lin(8, 12), circuit.ReLU{}, lin(4, 8)}}
	x := mat.NewDense(100, 16, nil)
	for i := range x.RawMatrix().Data {
		x.RawMatrix().Data[i] = rng.NormFloat64()
	}
	c, err := circuit.Compile(net, x, circuit.Config{NWBits: 3, NABits: 3, NInputBits: 4, RoundingThresholdBits: 3})
	if err != nil {
		b.Fatal(err)
	}
	o, err := fhe.NewOptimizer()
	if err != nil {
		b.Fatal(err)
	}
	sol, err := c.ChooseParams(o, circuit.ParamsConfig{PError: 1e-9})
	if err != nil {
		b.Fatal(err)
	}
	keys, err := GenKeys(context.Background(), c, sol, 0, 0)
	if err != nil {
		b.Fatal(err)
	}
	// Each inference is followed by the bare work timed alone, so that both see the
	// machine at the same moments: this machine's speed drifts by tens of percent within
	// minutes, and a bare time taken once, after the inferences, moved the ratio by as
	// much (0.93 to 1.16 between two runs of the same code). The ratio reported is the
	// median of the pairs' ratios: on a machine whose speed swings within seconds, a
	// pair that straddles a swing moved the ratio of the sums of three pairs from 0.97
	// to 1.23 between runs of the same code.
	// At least minPairs pairs make the median: with one pair (-benchtime 1x, as CI runs
	// it), a slow second of the machine during the inference read 1.24-1.38 in five runs
	// in a row, while the same code read 0.96-1.01 minutes later.
	const minPairs = 5
	var run time.Duration
	bare := 0.0
	var ratios []float64
	pair := func(timed bool) {
		s, err := keys.Run(context.Background(), x.RawRowView(0), 1)
		if err != nil {
			b.Fatal(err)
		}
		run += s.Time
		b.StopTimer()
		bt := keys.bareTime(b)
		bare += bt
		ratios = append(ratios, float64(s.Time)/bt)
		if timed {
			b.StartTimer()
		}
	}
	for b.Loop() {
		pair(true)
	}
	for len(ratios) < minPairs {
		pair(false)
	}
	perRun := float64(run) / float64(len(ratios))
	bare /= float64(len(ratios))
	b.ReportMetric(perRun/1e6, "executor-ms")
	b.ReportMetric(bare/1e6, "bare-ms")
	ratio := calibration.Median(ratios)
	b.ReportMetric(ratio, "executor/bare")
	b.ReportMetric(slices.Min(ratios), "min-ratio")
	b.ReportMetric(slices.Max(ratios), "max-ratio")
	if ratio > 1.5 {
		b.Fatalf("the executor takes %.2f× the bare tfhe-go work it does (goal 1.05)", ratio)
	}
}

// bareTime returns, in ns, the bare tfhe-go time of one inference's bootstraps,
// keyswitches between partitions and levelled multiply-adds, each timed alone.
func (k *Keys) bareTime(b *testing.B) float64 {
	w := k.newWorker()
	// The median of 7 batches of 3 calls: a single batch, a fraction of a second for a
	// bootstrap, took a passing slowdown of the machine in full.
	timeIt := func(f func()) float64 {
		const batches, reps = 7, 3
		f()
		ts := make([]float64, batches)
		for i := range ts {
			t0 := time.Now()
			for range reps {
				f()
			}
			ts[i] = float64(time.Since(t0)) / reps
		}
		return calibration.Median(ts)
	}
	total := 0.0
	for i, info := range k.c.Layers {
		lp := k.sol.Layers[i]
		bp, dp := lp.InputPartition, lp.Partition
		ev := w.ev[bp]
		ct := k.parts[bp].enc.EncryptLWEPlaintext(tfhe.LWEPlaintext[uint64]{Value: 1 << 60})
		acc := tfhe.NewLWECiphertext(k.parts[bp].tp)
		terms, n := 0, info.TLUCount
		if info.Output {
			n = k.c.OutSize()
		}
		if info.Op == "maxpool" {
			// A subtraction and an addition per comparison.
			total += float64(2*info.TLUCount) * timeIt(func() { ev.AddLWEAssign(ct, acc, acc) })
			n = 0
		}
		for j := range n {
			if _, err := k.c.Terms(i, j, func(int, int64) { terms++ }); err != nil {
				b.Fatal(err)
			}
		}
		total += float64(terms) * timeIt(func() { ev.ScalarMulAddLWEAssign(ct, 3, acc) })
		if info.Output {
			continue
		}
		lut := ev.GenLookUpTableCustomFull(func(int) uint64 { return 0 }, 1)
		out := tfhe.NewLWECiphertext(k.parts[bp].tp)
		boot := timeIt(func() { ev.BootstrapLUTAssign(ct, lut, out) })
		total += float64(info.TLUCount*info.Extractions) * boot
		if bp == dp {
			total += float64(info.TLUCount) * boot
			continue
		}
		lutD := w.ev[dp].GenLookUpTableCustomFull(func(int) uint64 { return 0 }, 1)
		ksk := k.between[fhe.Switch{From: bp, To: dp}]
		total += float64(info.TLUCount) * timeIt(func() {
			w.small[dp].KeySwitchLWEAssign(ct, ksk, w.ctSmall[dp])
			w.ev[dp].BlindRotateAssign(w.ctSmall[dp], lutD, w.glwe[dp])
		})
	}
	return total
}
