package tuner_test

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/fhetune/fhetune/fhe"
	"github.com/fhetune/fhetune/fhe/calibration"
	"github.com/fhetune/fhetune/fhe/circuit"
	"github.com/fhetune/fhetune/tuner"
	"gonum.org/v1/gonum/mat"
)

// These tests check the production latency path, tuner.ProfileTiming feeding
// (*circuit.Circuit).Estimate, against figures worked out by hand: literal milliseconds
// for small synthetic profiles, and for the built-in default profile the documented
// formulas applied to its stored coefficients (so that they keep passing when
// default_profile.json is measured again).

// closeTo reports whether got is want to 1e-12 relative (1e-15 absolute near zero).
func closeTo(got, want float64) bool {
	return math.Abs(got-want) <= 1e-12*math.Abs(want)+1e-15
}

// roundProfile is a synthetic profile with round numbers: a KS+PBS costs 2 ms of
// keyswitch (ks_call) and 8 ms of bootstrap (br_call) whatever the set, so 10 ms on one
// core; with its 2 measured workers busy a bootstrap takes 1.5 × 10 = 15 ms. Levelled
// work costs 10^5 ns per coefficient and a keyswitch between keys 25 000 ns per
// multiply-add: far from a real machine, chosen so that the tiny sets below give whole
// milliseconds.
func roundProfile() calibration.Profile {
	return calibration.Profile{
		Format:       calibration.Format,
		Model:        calibration.Model{Terms: []string{"ks_call", "br_call"}, Coef: []float64{2, 8}},
		Parallel:     calibration.ParallelModel{Workers: 2, Scale: 1.5},
		DotNSPerCoef: 1e5,
		Between:      &calibration.BetweenModel{NSPerMAC: 25000},
	}
}

// Tiny sets whose sizes make round numbers: setT has k·N = 4, n = 3; setU k·N = 8, n = 7.
var (
	setT = fhe.ParamsLiteral{GLWERank: 1, LogPolyDegree: 2, LWEDimension: 3, BRLevel: 1, BRLogBase: 10, KSLevel: 1, KSLogBase: 2}.MustCompile()
	setU = fhe.ParamsLiteral{GLWERank: 1, LogPolyDegree: 3, LWEDimension: 7, BRLevel: 1, BRLogBase: 10, KSLevel: 1, KSLogBase: 2}.MustCompile()
	// setA (k·N = 2048, n = 799) and setB (k·N = 2048, n = 799, k = 2) are of a real size.
	setA = fhe.ParamsLiteral{GLWERank: 1, LogPolyDegree: 11, LWEDimension: 799, BRLevel: 2, BRLogBase: 15, KSLevel: 5, KSLogBase: 3}.MustCompile()
	setB = fhe.ParamsLiteral{GLWERank: 2, LogPolyDegree: 10, LWEDimension: 799, BRLevel: 2, BRLogBase: 15, KSLevel: 4, KSLogBase: 3}.MustCompile()
)

// TestProfileTimingByHand calls each method of ProfileTiming on synthetic profiles.
func TestProfileTimingByHand(t *testing.T) {
	round := tuner.ProfileTiming{Profile: roundProfile(), Name: "round"}
	noDot := round
	noDot.Profile.DotNSPerCoef = 0
	// Model with a keyswitch multiply-add term: 10^−7 ms per MAC, 0.5 ms per keyswitch
	// call, 8 ms per bootstrap call; no Between model.
	macs := tuner.ProfileTiming{Profile: calibration.Profile{Format: calibration.Format,
		Model:    calibration.Model{Terms: []string{"ks_mac", "ks_call", "br_call"}, Coef: []float64{1e-7, 0.5, 8}},
		Parallel: calibration.ParallelModel{Workers: 2, Scale: 1.5}}, Name: "macs"}
	zeroBetween := macs
	zeroBetween.Profile.Between = &calibration.BetweenModel{}
	// Four workers, all busy: 1.2 × single + 0.01 ms per MB of keys. setA's keys:
	// bootstrap key n·(k+1)²·l_br·N = 799·4·2·2048 = 13 090 816 and keyswitching key
	// (k·N − n)·l_ks·(n+1) = 1249·5·800 = 4 996 000 words of 8 bytes: 144.694528 MB.
	busy := tuner.ProfileTiming{Profile: calibration.Profile{Format: calibration.Format,
		Model:    calibration.Model{Terms: []string{"ks_call", "br_call"}, Coef: []float64{2, 8}},
		Parallel: calibration.ParallelModel{Workers: 4, Scale: 1.2, MSPerMB: 0.01}}, Name: "busy"}
	allBusyA := 1.2*10 + 0.01*144.694528 // 13.44694528 ms
	single := round
	single.Profile.Parallel = calibration.ParallelModel{Workers: 1, Scale: 1}

	for _, c := range []struct {
		name      string
		got, want float64
	}{
		// ks_call + br_call, the same for every set.
		{"pbs", round.PBSMillis(setA), 10},
		{"pbs tiny", round.PBSMillis(setT), 10},
		{"bootstrap alone", round.BootstrapMillis(setA), 8},
		// The atomic pattern's keyswitch skips the n shared coefficients:
		// (2048 − 799)·5·800 = 4 996 000 MACs × 10^−7 = 0.4996 ms, + 0.5 + 8.
		{"pbs with ks_mac", macs.PBSMillis(setA), 0.4996 + 0.5 + 8},
		{"bootstrap with ks_mac", macs.BootstrapMillis(setA), 8},
		// Between keys: setA's 2048 big-key coefficients × level 5 × (799 + 1) of setB's
		// small key = 8 192 000 MACs, at 25 000 ns: 204 800 ms.
		{"keyswitch between, measured", round.KeySwitchMillis(setA, setB, 5), 204800},
		// The level is the argument's, not the destination's (setB has 4): 3 levels are
		// 2048·3·800 = 4 915 200 MACs.
		{"keyswitch between, level 3", round.KeySwitchMillis(setA, setB, 3), 4915200 * 25000 / 1e6},
		// Without Between, the keyswitch terms with all k·N coefficients:
		// 8 192 000 × 10^−7 + 0.5 = 1.3192 ms.
		{"keyswitch between, from terms", macs.KeySwitchMillis(setA, setB, 5), 0.8192 + 0.5},
		{"keyswitch between, zero ns per MAC", zeroBetween.KeySwitchMillis(setA, setB, 5), 0.8192 + 0.5},
		// ks_call only: 2 ms whatever the sizes.
		{"keyswitch between, ks_call only, no Between", noBetween(round).KeySwitchMillis(setA, setB, 5), 2},
		// Two workers: k = 1 is the single-core 10 ms, k = 2 all busy 15 ms, and the line
		// 10 + 5·(k − 1) goes on beyond: k = 3 gives 20 ms, k = 4 25 ms.
		{"parallel k=0", round.ParallelMillis(setA, 0), 10},
		{"parallel k=1", round.ParallelMillis(setA, 1), 10},
		{"parallel k=2", round.ParallelMillis(setA, 2), 15},
		{"parallel k=3", round.ParallelMillis(setA, 3), 20},
		{"parallel k=4", round.ParallelMillis(setA, 4), 25},
		// Four workers: 10 + (13.44694528 − 10)·(k − 1)/3.
		{"parallel of 4, k=2", busy.ParallelMillis(setA, 2), 10 + (allBusyA-10)/3},
		{"parallel of 4, k=4", busy.ParallelMillis(setA, 4), allBusyA},
		{"parallel of 4, k=7", busy.ParallelMillis(setA, 7), 10 + (allBusyA-10)*2},
		// One worker measured: no slow-down known, every k is single-core.
		{"one worker, k=4", single.ParallelMillis(setA, 4), 10},
		// Measured dot products: macs × (k·N + 1) coefficients × ns.
		// setT: 6 × 5 × 10^5 ns = 3 ms; setA: 1000 × 2049 × 10^5 ns = 204 900 ms.
		{"levelled setT", round.LevelledMillis(setT, 6), 3},
		{"levelled setA", round.LevelledMillis(setA, 1000), 204900},
		{"levelled none", round.LevelledMillis(setA, 0), 0},
		// Fallback to the complexity model, at the profile's ms per KS+PBS operation.
		// setT: FFT(4) = 4·2 + 4 = 12; CMux = 2·1·12 + 2·12 + 2²·1·4 = 64; PBS = 3·64 =
		// 192; keyswitch 4·1 + 4·4 + (4 − 1)·4 + 1 = 33; so 10 ms / 225 operations, and
		// 45 macs × k·N 4 = 180 operations are 8 ms.
		{"levelled fallback setT", noDot.LevelledMillis(setT, 45), 8},
		// setU: FFT(8) = 32; CMux = 2·32 + 2·32 + 4·8 = 160; PBS = 7·160 = 1120;
		// keyswitch 8 + 8·8 + 7·8 + 1 = 129; 10 macs × 8 = 80 operations of 10/1249 ms.
		{"levelled fallback setU", noDot.LevelledMillis(setU, 10), 800.0 / 1249},
	} {
		if !closeTo(c.got, c.want) {
			t.Errorf("%s: %.15g ms, want %.15g", c.name, c.got, c.want)
		}
	}
	if s := round.Source(); s != "round" {
		t.Errorf("source %q with measured dot products", s)
	}
	if s := noDot.Source(); s != "round (levelled work from the complexity model)" {
		t.Errorf("source %q without measured dot products", s)
	}
}

// noBetween returns t without its Between model.
func noBetween(t tuner.ProfileTiming) tuner.ProfileTiming {
	t.Profile.Between = nil
	return t
}

// threeLayerNet is fc1 (2 → 3, ReLU), fc2 (3 → 5, ReLU) and the output fc3 (5 → 2).
// Compiled as threeLayerConfig does, fc1's accumulators have 6 bits (no rounding) and
// fc2's 8, rounded to 7 by one exact bit extraction: two TLU precisions, so the
// multi-parameter sets put fc2 in another partition than its accumulators.
func threeLayerNet() (*circuit.Network, *mat.Dense) {
	net := &circuit.Network{InSize: 2, Layers: []circuit.Layer{
		&circuit.Linear{Out: 3, In: 2, W: []float64{3, -1, 2, -3, 1, 2}, B: []float64{1, 0, -1}},
		circuit.ReLU{},
		&circuit.Linear{Out: 5, In: 3, W: []float64{1, 3, -3, 2, -1, 0, 3, 1, 1, -2, 2, 1, 0, -1, 3}, B: []float64{0, 1, 0, -1, 0}},
		circuit.ReLU{},
		&circuit.Linear{Out: 2, In: 5, W: []float64{1, -1, 2, 0, 3, -3, 2, 1, 1, -1}, B: []float64{0, 0}},
	}}
	return net, mat.NewDense(5, 2, []float64{0, 0, 7, 7, 7, 0, 0, 7, 3, 5})
}

var threeLayerConfig = circuit.Config{NWBits: 3, NABits: 5, NInputBits: 3, RoundingThresholdBits: 7}

// compileThreeLayer compiles threeLayerNet, checks the shape the estimates below rely
// on, and chooses its multi-parameter sets.
func compileThreeLayer(t *testing.T) (*circuit.Circuit, *circuit.Solution) {
	t.Helper()
	net, calib := threeLayerNet()
	c, err := circuit.Compile(net, calib, threeLayerConfig)
	if err != nil {
		t.Fatal(err)
	}
	type shape struct {
		tlus, extractions int
		macs              int64
	}
	want := []shape{{3, 0, 2 * 3}, {5, 1, 3 * 5}, {0, 0, 5 * 2}}
	for i, l := range c.Layers {
		if got := (shape{l.TLUCount, l.Extractions, l.LevelledOps}); i >= len(want) || got != want[i] {
			t.Fatalf("layer %d %s: %+v, want %+v", i, l.Name, got, want[min(i, len(want)-1)])
		}
	}
	o, err := fhe.NewOptimizer()
	if err != nil {
		t.Fatal(err)
	}
	sol, err := c.ChooseParams(o, circuit.ParamsConfig{PError: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	return c, sol
}

// layerWant is what one layer of an estimate should hold.
type layerWant struct {
	pbs, tlu, rounding, keySwitch, levelled float64
}

// checkLatency compares an estimate with the expected layers; BootstrapMS, LayerMS and
// TotalMS must be their sums.
func checkLatency(t *testing.T, name string, lat circuit.Latency, want []layerWant) {
	t.Helper()
	if len(lat.Layers) != len(want) {
		t.Fatalf("%s: %d layers, want %d", name, len(lat.Layers), len(want))
	}
	total := 0.0
	for i, w := range want {
		l := lat.Layers[i]
		boot := w.tlu + w.rounding
		layer := boot + w.levelled
		total += layer
		if !closeTo(l.PBSMS, w.pbs) || !closeTo(l.TLUMS, w.tlu) || !closeTo(l.RoundingMS, w.rounding) ||
			!closeTo(l.KeySwitchMS, w.keySwitch) || !closeTo(l.LevelledMS, w.levelled) ||
			!closeTo(l.BootstrapMS, boot) || !closeTo(l.LayerMS, layer) {
			t.Errorf("%s: layer %s\n got pbs %.15g tlu %.15g rounding %.15g keyswitch %.15g levelled %.15g bootstrap %.15g layer %.15g"+
				"\nwant pbs %.15g tlu %.15g rounding %.15g keyswitch %.15g levelled %.15g bootstrap %.15g layer %.15g",
				name, l.Name, l.PBSMS, l.TLUMS, l.RoundingMS, l.KeySwitchMS, l.LevelledMS, l.BootstrapMS, l.LayerMS,
				w.pbs, w.tlu, w.rounding, w.keySwitch, w.levelled, boot, layer)
		}
	}
	if !closeTo(lat.TotalMS, total) {
		t.Errorf("%s: total %.15g ms, want %.15g", name, lat.TotalMS, total)
	}
}

// TestEstimateRoundProfile estimates threeLayerNet with roundProfile. Estimate prices
// the sets its solution names, so the test pins them to the tiny sets: fc1 runs with
// setT, fc2's TLUs with setU and its accumulators (and bit extraction) under setT's key,
// reached by a keyswitch of level 5; the output fc3 is under setU's key.
func TestEstimateRoundProfile(t *testing.T) {
	c, sol := compileThreeLayer(t)
	pin := func(i int, p, in fhe.Params, part, inPart, level int) {
		l := &sol.Layers[i]
		l.Params, l.Input, l.Partition, l.InputPartition, l.KSLevel = p, in, part, inPart, level
	}
	pin(0, setT, setT, 0, 0, 0)
	pin(1, setU, setT, 1, 0, 5)
	pin(2, setU, setU, 1, 1, 0)

	// fc1: 3 TLUs in their accumulators' partition, 10 ms each alone.
	// fc2: a TLU is setU's 8 ms bootstrap after a keyswitch setT → setU of
	// 4·5·8 = 160 MACs × 25 000 ns = 4 ms: 12 ms. Its bit extraction is a KS+PBS of
	// setT, 10 ms, over its 5 accumulators.
	// Levelled at 10^5 ns a coefficient: fc1 6 MACs × 5 (setT) = 3 ms; fc2 15 × 5 = 7.5
	// ms; fc3 10 × 9 (setU) = 9 ms; divided by the cores.
	pr := roundProfile()
	timing := tuner.ProfileTiming{Profile: pr, Name: "round"}
	for _, tc := range []struct {
		cores int
		want  []layerWant
	}{
		// One core: every bootstrap alone, one after the other.
		// fc1 3 × 10 = 30; fc2 5 × 12 = 60 of which 5 × 4 = 20 keyswitching, rounding
		// 5 × 10 = 50.
		{1, []layerWant{{10, 30, 0, 0, 3}, {12, 60, 50, 20, 7.5}, {0, 0, 0, 0, 9}}},
		// Two cores (the profile's workers, 1.5× slower together).
		// fc1: 3 TLUs = 1 round of 2 at 10 × 1.5 = 15, then 1 alone at 10: 25.
		// fc2: 5 = 2 rounds of 2 at 12 × 1.5 = 18 each, then 1 at 12: 48, of which
		// 4/12 = 16 keyswitching; rounding 2 × 15 + 10 = 40.
		{2, []layerWant{{10, 25, 0, 0, 1.5}, {12, 48, 40, 16, 3.75}, {0, 0, 0, 0, 4.5}}},
		// Three cores, one more than measured: 3 at once extrapolate to 10 + 5·2 = 20 ms
		// each (2×), 2 at once 1.5×.
		// fc1: 1 round of 3 at 10 × 2 = 20. fc2: 1 round of 3 at 12 × 2 = 24, then 2 at
		// 12 × 1.5 = 18: 42, of which 14 keyswitching; rounding 20 + 15 = 35.
		{3, []layerWant{{10, 20, 0, 0, 1}, {12, 42, 35, 14, 2.5}, {0, 0, 0, 0, 3}}},
	} {
		lat, err := c.Estimate(sol, timing, tc.cores)
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("cores %d", tc.cores)
		checkLatency(t, name, lat, tc.want)
		// Totals: 33 + 117.5 + 9 = 159.5 ms on one core, 26.5 + 91.75 + 4.5 = 122.75 on
		// two, 21 + 79.5 + 3 = 103.5 on three.
		wantTotal := map[int]float64{1: 159.5, 2: 122.75, 3: 103.5}[tc.cores]
		if !closeTo(lat.TotalMS, wantTotal) || lat.Source != "round" || lat.Cores != tc.cores ||
			lat.TLUCount != 8 || lat.PBSCount != 3+5*2 || lat.MaxTLUBits != 7 {
			t.Errorf("%s: total %v ms (want %v), source %q, cores %d, %d TLUs, %d bootstraps, max %d bits",
				name, lat.TotalMS, wantTotal, lat.Source, lat.Cores, lat.TLUCount, lat.PBSCount, lat.MaxTLUBits)
		}
	}

	// One worker measured: no parallel slow-down, so two cores halve the rounds.
	// fc1: 1 round of 2 + 1 alone = 2 × 10; fc2: 3 rounds of 12 = 36, 12 keyswitching;
	// rounding 3 × 10.
	one := pr
	one.Parallel = calibration.ParallelModel{Workers: 1, Scale: 1}
	lat, err := c.Estimate(sol, tuner.ProfileTiming{Profile: one, Name: "one"}, 2)
	if err != nil {
		t.Fatal(err)
	}
	checkLatency(t, "one worker, 2 cores", lat, []layerWant{{10, 20, 0, 0, 1.5}, {12, 36, 30, 12, 3.75}, {0, 0, 0, 0, 4.5}})

	// Neither measured dot products nor keyswitches between keys: the keyswitch is the
	// model's ks_call, 2 ms, so a fc2 TLU is 8 + 2 = 10 ms; levelled work is priced by
	// the complexity model at 10 ms per KS+PBS: setT 225 operations (see
	// TestProfileTimingByHand), fc1 6 × 4 = 24 of them = 16/15 ms, fc2 15 × 4 = 60 =
	// 8/3 ms; setU 1249 operations, fc3 10 × 8 = 80 of them = 800/1249 ms.
	fallback := pr
	fallback.DotNSPerCoef, fallback.Between = 0, nil
	lat, err = c.Estimate(sol, tuner.ProfileTiming{Profile: fallback, Name: "round"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	checkLatency(t, "fallbacks, 1 core", lat, []layerWant{{10, 30, 0, 0, 16.0 / 15}, {10, 50, 50, 10, 8.0 / 3}, {0, 0, 0, 0, 800.0 / 1249}})
	if lat.Source != "round (levelled work from the complexity model)" {
		t.Errorf("fallback source %q", lat.Source)
	}
}

// byHand prices sets with a profile's stored numbers and the formulas documented in
// package calibration, written out again here: the model's terms (Terms' Doc), the
// parallel model, the keyswitch between keys and the dot-product cost.
type byHand struct {
	t  *testing.T
	pr calibration.Profile
}

// termCount returns the work count of a term and its part ("ks" or "pbs").
func (h byHand) termCount(name string, p fhe.Params) (float64, string) {
	k := float64(p.GLWERank())
	bigN := float64(int(1) << p.LogPolyDegree())
	logN := float64(p.LogPolyDegree())
	kN, n := k*bigN, float64(p.LWEDimension())
	lbr, lks := float64(p.BRLevel()), float64(p.KSLevel())
	switch name {
	case "ks_mac": // (k·N − n)·l_ks·(n+1)
		return (kN - n) * lks * (n + 1), "ks"
	case "ks_dec": // (k·N − n)·l_ks
		return (kN - n) * lks, "ks"
	case "ks_call":
		return 1, "ks"
	case "br_fft": // n·(k+1)·(l_br+1)·N·log2 N
		return n * (k + 1) * (lbr + 1) * bigN * logN, "pbs"
	case "br_fwd": // n·(k+1)·l_br·N·log2 N
		return n * (k + 1) * lbr * bigN * logN, "pbs"
	case "br_inv": // n·(k+1)·N·log2 N
		return n * (k + 1) * bigN * logN, "pbs"
	case "br_mac": // n·(k+1)²·l_br·N
		return n * (k + 1) * (k + 1) * lbr * bigN, "pbs"
	case "br_lin": // n·(k+1)·(l_br+1)·N
		return n * (k + 1) * (lbr + 1) * bigN, "pbs"
	case "br_poly": // n·(k+1)·(l_br+1)
		return n * (k + 1) * (lbr + 1), "pbs"
	case "br_call":
		return 1, "pbs"
	}
	h.t.Fatalf("profile term %q has no hand formula in this test", name)
	return 0, ""
}

// part sums coefficient × count over the terms of one part ("" for all).
func (h byHand) part(p fhe.Params, part string) float64 {
	sum := 0.0
	for i, name := range h.pr.Model.Terms {
		if c, pt := h.termCount(name, p); part == "" || pt == part {
			sum += h.pr.Model.Coef[i] * c
		}
	}
	return sum
}

// pbs is one KS+PBS on one core; bootstrap its bootstrap part.
func (h byHand) pbs(p fhe.Params) float64       { return h.part(p, "") }
func (h byHand) bootstrap(p fhe.Params) float64 { return h.part(p, "pbs") }

// parallel is one KS+PBS while k cores run one: the line from the single-core time at
// k = 1 to Scale·single + MSPerMB·(key MB) at k = Workers, the keys being
// 8·(n·(k+1)²·l_br·N + (k·N − n)·l_ks·(n+1)) bytes.
func (h byHand) parallel(p fhe.Params, cores int) float64 {
	single := h.pbs(p)
	w := h.pr.Parallel.Workers
	if cores <= 1 || w <= 1 {
		return single
	}
	k1 := float64(p.GLWERank() + 1)
	n := float64(p.LWEDimension())
	keyMB := 8 * (n*k1*k1*float64(p.BRLevel())*float64(p.PolyDegree()) +
		(float64(p.GLWEDimension())-n)*float64(p.KSLevel())*(n+1)) / 1e6
	all := h.pr.Parallel.Scale*single + h.pr.Parallel.MSPerMB*keyMB
	return single + (all-single)*float64(cores-1)/float64(w-1)
}

// keySwitch is a keyswitch from's k·N → to's n of level levels: k·N·level·(n+1) MACs at
// the measured ns per MAC, or else the keyswitch terms with those counts.
func (h byHand) keySwitch(from, to fhe.Params, level int) float64 {
	kN, l, n1 := float64(from.GLWEDimension()), float64(level), float64(to.LWEDimension()+1)
	if b := h.pr.Between; b != nil && b.NSPerMAC > 0 {
		return kN * l * n1 * b.NSPerMAC / 1e6
	}
	sum := 0.0
	for i, name := range h.pr.Model.Terms {
		switch name {
		case "ks_mac":
			sum += h.pr.Model.Coef[i] * kN * l * n1
		case "ks_dec":
			sum += h.pr.Model.Coef[i] * kN * l
		case "ks_call":
			sum += h.pr.Model.Coef[i]
		}
	}
	return sum
}

// levelled is macs multiply-adds of (k·N + 1)-coefficient ciphertexts at the measured
// ns per coefficient, or else macs·k·N complexity-model operations at the KS+PBS time
// per operation: n·CMux + the keyswitch's kN·l + kN·l·(n+1) + (kN·l − 1)·(n+1) + 1, with
// CMux = (k+1)·l_br·FFT + (k+1)·FFT + (k+1)²·l_br·N and FFT = N·log2 N + N.
func (h byHand) levelled(p fhe.Params, macs int64) float64 {
	kN := float64(p.GLWEDimension())
	if h.pr.DotNSPerCoef > 0 {
		return float64(macs) * (kN + 1) * h.pr.DotNSPerCoef / 1e6
	}
	bigN, k1 := float64(p.PolyDegree()), float64(p.GLWERank()+1)
	fft := bigN*float64(p.LogPolyDegree()) + bigN
	cmux := k1*float64(p.BRLevel())*fft + k1*fft + k1*k1*float64(p.BRLevel())*bigN
	d, n1 := kN*float64(p.KSLevel()), float64(p.LWEDimension()+1)
	ops := float64(p.LWEDimension())*cmux + d + d*n1 + (d-1)*n1 + 1
	return float64(macs) * kN * h.pbs(p) / ops
}

// rounds is count operations of single ms each of set p on cores cores: ⌊count/cores⌋
// rounds of cores at once, then one of the rest, each slowed down by p's parallel time
// over its single-core time for that many at once.
func (h byHand) rounds(p fhe.Params, single float64, count, cores int) float64 {
	slow := func(k int) float64 { return h.parallel(p, k) / h.pbs(p) }
	ms := float64(count/cores) * single * slow(cores)
	if rest := count % cores; rest > 0 {
		ms += single * slow(rest)
	}
	return ms
}

// TestEstimateDefaultProfile estimates threeLayerNet with the sets the optimizer chooses,
// on the built-in default profile, and redoes every layer by hand from the profile's
// stored numbers. fc2's TLUs are in another partition than its accumulators: a TLU is a
// keyswitch between the keys and a bootstrap, and its bit extraction runs with the
// accumulators' set.
func TestEstimateDefaultProfile(t *testing.T) {
	pr, err := calibration.Default()
	if err != nil {
		t.Fatal(err)
	}
	c, sol := compileThreeLayer(t)
	if l := sol.Layers[1]; l.InputPartition == l.Partition || sol.Layers[0].InputPartition != sol.Layers[0].Partition {
		t.Fatalf("partitions %+v: the test needs fc1 in its inputs' partition and fc2 out of its accumulators'", sol.Layers)
	}
	env, err := tuner.NewProfileEnv(pr, calibration.SourceDefault)
	if err != nil {
		t.Fatal(err)
	}
	wantSource := "default"
	if pr.DotNSPerCoef == 0 {
		wantSource = "default (levelled work from the complexity model)"
	}
	h := byHand{t, pr}
	w := max(1, pr.Parallel.Workers)
	if env.DefaultCores != w {
		t.Errorf("default cores %d, profile measured %d workers", env.DefaultCores, w)
	}
	for _, cores := range []int{1, w, w + 1} {
		lat, err := c.Estimate(sol, env.Timing, cores)
		if err != nil {
			t.Fatal(err)
		}
		var want []layerWant
		for i, l := range c.Layers {
			lp := sol.Layers[i]
			lw := layerWant{levelled: h.levelled(lp.Input, l.LevelledOps) / float64(cores)}
			if !l.Output {
				single, ks := h.pbs(lp.Params), 0.0
				if lp.InputPartition != lp.Partition {
					ks = h.keySwitch(lp.Input, lp.Params, lp.KSLevel)
					single = h.bootstrap(lp.Params) + ks
				}
				lw.pbs = single
				lw.tlu = h.rounds(lp.Params, single, l.TLUCount, cores)
				lw.keySwitch = lw.tlu * ks / single
				lw.rounding = float64(l.Extractions) * h.rounds(lp.Input, h.pbs(lp.Input), l.TLUCount, cores)
			}
			want = append(want, lw)
		}
		name := fmt.Sprintf("default, cores %d", cores)
		checkLatency(t, name, lat, want)
		if want[1].keySwitch <= 0 || want[1].rounding <= 0 || lat.Source != wantSource || lat.Cores != cores {
			t.Errorf("%s: fc2 keyswitch %v ms, rounding %v ms; source %q", name, want[1].keySwitch, want[1].rounding, lat.Source)
		}
	}
}

// TestCalibrationCoversDefaultPError checks that `fhetune calibrate` fits its model on the
// sets a default study can pick: its largest default p_error reaches the top of the
// default search range. Above the fitted p_errors the optimizer picks sets of other
// shapes (a second bootstrap level at N = 2^10, keyswitch base log 7), which the model
// priced 7-13% fast when calibration stopped at 1e-2.
func TestCalibrationCoversDefaultPError(t *testing.T) {
	r, err := tuner.DefaultSpec().Resolve()
	if err != nil {
		t.Fatal(err)
	}
	top := slices.Max(calibration.DefaultPErrors)
	if r.Space.PError == nil || r.Space.PError.High > top {
		t.Fatalf("the default study searches p_error %v, calibration's default p_errors %v stop below its top", r.Space.PError, calibration.DefaultPErrors)
	}
}
