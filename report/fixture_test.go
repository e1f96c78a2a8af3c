package report_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/fhetune/fhetune/report"
)

var update = flag.Bool("update", false, "rewrite testdata/study.json from its seeded generator")

const fixturePath = "testdata/study.json"

// loadFixture reads the 62-trial study in testdata, strictly.
func loadFixture(t testing.TB) report.Study {
	t.Helper()
	f, err := os.Open(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	var s report.Study
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("decode %s: %v", fixturePath, err)
	}
	return s
}

// TestFixtureUpToDate checks that testdata/study.json is what its generator makes; run
// `go test ./report -run TestFixtureUpToDate -update` to rewrite it.
func TestFixtureUpToDate(t *testing.T) {
	want, err := json.MarshalIndent(generateStudy(5), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, '\n')
	if *update {
		if err := os.WriteFile(filepath.FromSlash(fixturePath), want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from its generator's output; rerun with -update", fixturePath)
	}
}

// The generator models a digits MLP (64 inputs, hidden layers of 64 and 32 neurons, 10
// outputs) under fhetune's knobs, with the PBS times of REFERENCES.md on 2 cores. It is
// a plausible study, not a simulation: accuracy loses points to few bits, pruning, coarse
// rounding and high p_error; latency follows the TLU bit-width.

const (
	floatAcc = 0.9722
	cores    = 2
	maxBits  = 8 // the widest TLU with a crypto set; wider unrounded layers fail
)

// pbsMs is one KS+PBS per TLU bit-width at p_error 1e-5 (index = bits).
var pbsMs = []float64{0, 6.1, 7.4, 9.6, 14.2, 24.5, 49.0, 112, 310}

// cryptoSets is the crypto set per TLU bit-width (index = bits).
var cryptoSets = []string{"",
	"k=4 N=2^8 n=688 br=1x17 ks=3x3",
	"k=2 N=2^9 n=742 br=1x18 ks=4x3",
	"k=1 N=2^10 n=750 br=1x23 ks=4x3",
	"k=2 N=2^10 n=801 br=1x23 ks=5x3",
	"k=1 N=2^11 n=833 br=1x23 ks=5x3",
	"k=1 N=2^12 n=881 br=1x22 ks=5x3",
	"k=1 N=2^13 n=935 br=2x15 ks=6x3",
	"k=1 N=2^14 n=1006 br=2x15 ks=7x3",
}

var (
	wPenalty     = []float64{0, 0, 0.58, 0.13, 0.031, 0.011, 0.004, 0.002, 0.001}
	aPenalty     = []float64{0, 0, 0.47, 0.10, 0.024, 0.008, 0.003, 0.0012, 0.0005}
	roundPenalty = []float64{0, 0, 0, 0.36, 0.085, 0.021, 0.006, 0.002, 0.0008}
)

func generateStudy(seed uint64) report.Study {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	s := report.Study{
		Name:          "digits-mlp",
		Objectives:    []report.Objective{{Name: "accuracy", Direction: "maximize"}, {Name: "latency_ms", Direction: "minimize"}},
		FloatAccuracy: floatAcc,
		Knobs:         []string{"n_w_bits", "n_a_bits", "pruning", "sparsity", "rounding_threshold_bits", "p_error", "global_p_error"},
	}
	round2 := func(x float64) float64 { return math.Round(x*100) / 100 }
	for n := range 62 {
		knobs := map[string]float64{
			"n_w_bits": float64(2 + rng.IntN(7)),
			"n_a_bits": float64(2 + rng.IntN(7)),
			"pruning":  round2(0.8 * rng.Float64()),
			"p_error":  sig3(math.Pow(10, -5+4*rng.Float64())),
		}
		if rng.Float64() < 0.8 {
			knobs["rounding_threshold_bits"] = float64(3 + rng.IntN(6))
		}
		// After 20 random trials, most trials mutate a trial of the front so far, as an
		// evolutionary sampler would.
		if parent := randomFrontTrial(rng, s.Trials); n >= 20 && parent != nil && rng.Float64() < 0.75 {
			knobs = mutate(rng, parent.Knobs)
		}
		tr := report.Trial{Number: n, State: "COMPLETE", Knobs: knobs}
		if n == 61 {
			tr.State = "RUNNING"
			s.Trials = append(s.Trials, tr)
			continue
		}
		w, a, pr, pe := int(knobs["n_w_bits"]), int(knobs["n_a_bits"]), knobs["pruning"], knobs["p_error"]
		rtb, rounded := knobs["rounding_threshold_bits"]
		h1 := int(math.Round(64 * (1 - pr)))
		h2 := int(math.Round(32 * (1 - pr)))
		// Accumulator bits: weights + activations + a third of the fan-in's bits (real
		// weight norms stay well below the worst case) + sign.
		acc1 := w + a + 2 + 1
		acc2 := w + a + int(math.Ceil(math.Log2(float64(h1))/2)) + 1
		p1, p2 := acc1, acc2
		if rounded {
			p1, p2 = min(acc1, int(rtb)), min(acc2, int(rtb))
		}
		if p1 > maxBits || p2 > maxBits {
			tr.State = "FAIL"
			s.Trials = append(s.Trials, tr)
			continue
		}
		speed := 1 - 0.07*math.Log10(pe/1e-5) // a higher p_error buys smaller sets
		layer := func(name string, fanIn, tlus, bits int) report.Layer {
			pbs := round2(pbsMs[bits] * speed)
			boot := round2(math.Ceil(float64(tlus)/cores) * pbs)
			lev := round2(0.0011 * float64(fanIn*tlus))
			return report.Layer{Name: name, TLUCount: tlus, TLUBits: bits, Crypto: cryptoSets[bits],
				PBSMs: pbs, BootstrapMs: boot, LayerMs: round2(boot + lev)}
		}
		tr.Layers = []report.Layer{
			layer("dense1+relu", 64, h1, p1),
			layer("dense2+relu", h1, h2, p2),
			{Name: "dense3 (logits)", LayerMs: round2(0.0011 * float64(h2*10))},
		}
		for _, l := range tr.Layers {
			tr.LatencyMs += l.LayerMs
		}
		tr.LatencyMs = round2(tr.LatencyMs)
		tr.PBSCount = h1 + h2
		tr.MaxTLUBits = max(p1, p2)

		pen := wPenalty[w] + aPenalty[a] + 0.7*math.Pow(math.Max(0, pr-0.3), 2)
		if rounded {
			pen += roundPenalty[int(rtb)]
		}
		pen += 0.32 * (1 - math.Pow(1-pe, float64(h1+h2)))
		accuracy := floatAcc - pen + 0.006*(rng.Float64()-0.5)
		tr.Accuracy = math.Round(math.Min(0.97, math.Max(0.1+0.01*rng.Float64(), accuracy))*1e4) / 1e4
		s.Trials = append(s.Trials, tr)
	}
	markFront(&s)
	s.History = history(s.Trials)
	s.Picks = picks(s.Trials)
	s.ChosenTrial = &s.Picks[0].Trial
	return s
}

// randomFrontTrial returns a random non-dominated complete trial, or nil.
func randomFrontTrial(rng *rand.Rand, trials []report.Trial) *report.Trial {
	var front []*report.Trial
	for i := range trials {
		a := &trials[i]
		if a.State == "COMPLETE" && !slices.ContainsFunc(trials, func(b report.Trial) bool {
			return b.State == "COMPLETE" && dominates(b, *a)
		}) {
			front = append(front, a)
		}
	}
	if len(front) == 0 {
		return nil
	}
	return front[rng.IntN(len(front))]
}

// mutate moves each knob a step: bits by ±1, pruning by up to ±0.1, p_error by up to
// half a decade; rounding may switch on or off.
func mutate(rng *rand.Rand, parent map[string]float64) map[string]float64 {
	k := maps.Clone(parent)
	step := func(name string, lo, hi float64) {
		if v, ok := k[name]; ok && rng.Float64() < 0.5 {
			k[name] = math.Max(lo, math.Min(hi, v+float64(2*rng.IntN(2)-1)))
		}
	}
	step("n_w_bits", 2, 8)
	step("n_a_bits", 2, 8)
	step("rounding_threshold_bits", 3, 8)
	if rng.Float64() < 0.1 {
		if _, ok := k["rounding_threshold_bits"]; ok {
			delete(k, "rounding_threshold_bits")
		} else {
			k["rounding_threshold_bits"] = 6
		}
	}
	k["pruning"] = math.Round(math.Max(0, math.Min(0.8, k["pruning"]+0.2*(rng.Float64()-0.5)))*100) / 100
	k["p_error"] = sig3(math.Max(1e-5, math.Min(0.1, k["p_error"]*math.Pow(10, rng.Float64()-0.5))))
	return k
}

// sig3 rounds x to three significant digits.
func sig3(x float64) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'g', 3, 64), 64)
	return v
}

func dominates(a, b report.Trial) bool {
	return a.Accuracy >= b.Accuracy && a.LatencyMs <= b.LatencyMs && (a.Accuracy > b.Accuracy || a.LatencyMs < b.LatencyMs)
}

func markFront(s *report.Study) {
	for i := range s.Trials {
		if s.Trials[i].State != "COMPLETE" {
			continue
		}
		s.Trials[i].OnFront = !slices.ContainsFunc(s.Trials, func(o report.Trial) bool {
			return o.State == "COMPLETE" && dominates(o, s.Trials[i])
		})
	}
}

// history is the hypervolume in (accuracy, log10 latency) space against the reference
// point (accuracy 0, latency 30 s), and the best accuracy, after each trial.
func history(trials []report.Trial) []report.HistoryPoint {
	const refMs = 30000
	var out []report.HistoryPoint
	for i, t := range trials {
		if t.State == "RUNNING" {
			continue
		}
		var done []report.Trial
		best := 0.0
		for _, o := range trials[:i+1] {
			if o.State == "COMPLETE" {
				done = append(done, o)
				best = math.Max(best, o.Accuracy)
			}
		}
		var front []report.Trial
		for _, a := range done {
			if !slices.ContainsFunc(done, func(b report.Trial) bool { return dominates(b, a) }) {
				front = append(front, a)
			}
		}
		slices.SortFunc(front, func(a, b report.Trial) int { return int(math.Copysign(1, a.LatencyMs-b.LatencyMs)) })
		hv := 0.0
		for j, f := range front {
			next := float64(refMs)
			if j+1 < len(front) {
				next = front[j+1].LatencyMs
			}
			hv += f.Accuracy * (math.Log10(next) - math.Log10(f.LatencyMs))
		}
		out = append(out, report.HistoryPoint{Trial: t.Number, Hypervolume: math.Round(hv*1e4) / 1e4, BestAccuracy: best})
	}
	return out
}

// picks are what `study best` picks: the fastest trial within 1% of float accuracy, the
// fastest and the most accurate.
func picks(trials []report.Trial) []report.Pick {
	var within, fastest, accurate *report.Trial
	for i := range trials {
		t := &trials[i]
		if t.State != "COMPLETE" {
			continue
		}
		if t.Accuracy >= floatAcc-0.01 && (within == nil || t.LatencyMs < within.LatencyMs) {
			within = t
		}
		if fastest == nil || t.LatencyMs < fastest.LatencyMs || t.LatencyMs == fastest.LatencyMs && t.Accuracy > fastest.Accuracy {
			fastest = t
		}
		if accurate == nil || t.Accuracy > accurate.Accuracy || t.Accuracy == accurate.Accuracy && t.LatencyMs < accurate.LatencyMs {
			accurate = t
		}
	}
	return []report.Pick{
		{Label: "best within 1% of float", Trial: within.Number},
		{Label: "fastest", Trial: fastest.Number},
		{Label: "most accurate", Trial: accurate.Number},
	}
}
