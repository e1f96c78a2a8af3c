package calibration_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/fhetune/fhetune/fhe"
	"github.com/fhetune/fhetune/fhe/calibration"
	"github.com/fhetune/fhetune/studies"
)

// The study store satisfies the interface without either package importing the other.
var _ calibration.ProfileStore = (*studies.Store)(nil)

// smallTargets are eight small sets varying k, N, n and both decompositions, enough to
// fit the default terms with one left out.
func smallTargets(t *testing.T) []calibration.Target {
	t.Helper()
	lits := []fhe.ParamsLiteral{
		{GLWERank: 1, LogPolyDegree: 9, LWEDimension: 160, BRLevel: 2, BRLogBase: 10, KSLevel: 4, KSLogBase: 5},
		{GLWERank: 2, LogPolyDegree: 8, LWEDimension: 128, BRLevel: 3, BRLogBase: 7, KSLevel: 3, KSLogBase: 6},
		{GLWERank: 1, LogPolyDegree: 8, LWEDimension: 96, BRLevel: 2, BRLogBase: 10, KSLevel: 2, KSLogBase: 8},
		{GLWERank: 3, LogPolyDegree: 8, LWEDimension: 200, BRLevel: 2, BRLogBase: 10, KSLevel: 5, KSLogBase: 4},
		{GLWERank: 1, LogPolyDegree: 9, LWEDimension: 256, BRLevel: 3, BRLogBase: 7, KSLevel: 6, KSLogBase: 3},
		{GLWERank: 2, LogPolyDegree: 9, LWEDimension: 192, BRLevel: 1, BRLogBase: 18, KSLevel: 4, KSLogBase: 5},
		{GLWERank: 2, LogPolyDegree: 8, LWEDimension: 224, BRLevel: 2, BRLogBase: 10, KSLevel: 3, KSLogBase: 6},
		{GLWERank: 1, LogPolyDegree: 10, LWEDimension: 128, BRLevel: 2, BRLogBase: 10, KSLevel: 2, KSLogBase: 8},
	}
	out := make([]calibration.Target, len(lits))
	for i, l := range lits {
		out[i] = smallTarget(t, l, 3, 0)
	}
	return out
}

func openStore(t *testing.T) *studies.Store {
	t.Helper()
	s, err := studies.Open(context.Background(), filepath.Join(t.TempDir(), "fhetune.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestCalibrateRoundTripsThroughDatabase(t *testing.T) {
	ctx := context.Background()
	targets := smallTargets(t)
	// Two more sets measured in the same rounds but left out of the fit.
	for _, l := range []fhe.ParamsLiteral{
		{GLWERank: 1, LogPolyDegree: 9, LWEDimension: 200, BRLevel: 2, BRLogBase: 10, KSLevel: 3, KSLogBase: 6},
		{GLWERank: 2, LogPolyDegree: 8, LWEDimension: 160, BRLevel: 2, BRLogBase: 10, KSLevel: 4, KSLogBase: 5},
	} {
		h := smallTarget(t, l, 3, 0)
		h.HeldOut = true
		targets = append(targets, h)
	}
	fit := len(targets) - 2
	var events []calibration.Event
	const repeats = 3
	pr, err := calibration.Calibrate(ctx, targets, calibration.Options{
		Measure:      calibration.MeasureOptions{Repeats: repeats, PerWorker: 1, DotTerms: 4},
		MinRoundTime: -1,
		Command:      "test",
		Progress:     func(e calibration.Event) { events = append(events, e) },
	})
	if err != nil {
		t.Fatal(err)
	}
	// One group: keygen of every set, one event per round, every set done; then one
	// event per keyswitch between the keys of two sets.
	var between []calibration.Event
	for len(events) > 0 && events[len(events)-1].Phase == calibration.PhaseBetween {
		between = append(between, events[len(events)-1])
		events = events[:len(events)-1]
	}
	if pr.Between == nil || len(between) != len(pr.Between.Measurements) || len(between) == 0 || !(pr.Between.NSPerMAC > 0) {
		t.Fatalf("%d keyswitch-between events, model %+v", len(between), pr.Between)
	}
	for _, m := range pr.Between.Measurements {
		if m.Wrong != 0 || m.Checked != 4 || m.From.Literal() == m.To.Literal() {
			t.Errorf("keyswitch between keys %+v", m)
		}
	}
	if len(events) != 2*len(targets)+repeats {
		t.Fatalf("%d progress events for %d sets and %d rounds", len(events), len(targets), repeats)
	}
	for i, e := range events {
		want, index, round := calibration.PhaseKeygen, i, 0
		switch {
		case i >= len(targets)+repeats:
			want, index = calibration.PhaseDone, i-len(targets)-repeats
		case i >= len(targets):
			want, index, round = calibration.PhaseRound, 0, i-len(targets)+1
		}
		if e.Phase != want || e.Total != len(targets) || e.Groups != 1 || e.Round != round ||
			(want != calibration.PhaseRound && e.Index != index) || (e.Phase == calibration.PhaseDone) != (e.Measurement != nil) {
			t.Errorf("event %d: %+v, want phase %s", i, e, want)
		}
	}
	for _, m := range slices.Concat(pr.Measurements, pr.HeldOut) {
		if m.Rounds != repeats || len(m.SamplesMS) != repeats {
			t.Errorf("%v: %d rounds, %d samples, want %d", m.Set, m.Rounds, len(m.SamplesMS), repeats)
		}
	}
	if len(pr.HeldOut) != 2 || pr.HeldOutError == nil || len(pr.HeldOutError.Errors) != 2 || !pr.HeldOut[0].HeldOut {
		t.Fatalf("held out: %d sets, error %+v", len(pr.HeldOut), pr.HeldOutError)
	}
	for i, m := range pr.HeldOut {
		p, err := m.Set.Compile()
		if err != nil {
			t.Fatal(err)
		}
		if want := (pr.PredictMS(p) - m.MS) / m.MS; pr.HeldOutError.Errors[i] != want {
			t.Errorf("held-out set %d: error %g, want %g", i, pr.HeldOutError.Errors[i], want)
		}
	}
	if rows := pr.Table(); len(rows) != len(targets) || !rows[len(rows)-1].HeldOut || rows[0].HeldOut {
		t.Errorf("table of %d rows, held out last: %v", len(rows), rows[len(rows)-1].HeldOut)
	}
	targets = targets[:fit]
	if len(pr.Measurements) != len(targets) || len(pr.LOO.Errors) != len(targets) || pr.Format != calibration.Format {
		t.Fatalf("profile has %d measurements, %d LOO errors, format %d", len(pr.Measurements), len(pr.LOO.Errors), pr.Format)
	}
	if pr.Wrong != 0 || pr.Bootstraps == 0 {
		t.Errorf("%d wrong of %d bootstraps", pr.Wrong, pr.Bootstraps)
	}
	if pr.Machine.Cores < 1 || pr.Go == "" || pr.TFHEGo == "" || pr.Command != "test" || pr.Created.IsZero() || len(pr.LoadAverage) != 2 {
		t.Errorf("provenance %+v %q %q %q %v %v", pr.Machine, pr.Go, pr.TFHEGo, pr.Command, pr.Created, pr.LoadAverage)
	}
	for i, tg := range targets {
		if ms := pr.PredictMS(tg.Params); !(ms > 0) || math.IsInf(ms, 0) {
			t.Errorf("set %d: predicted %g ms", i, ms)
		}
	}

	store := openStore(t)
	payload, err := pr.Encode()
	if err != nil {
		t.Fatal(err)
	}
	id, err := store.SaveProfile(ctx, pr.Machine.String(), payload)
	if err != nil {
		t.Fatal(err)
	}
	got, source, err := calibration.Latest(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != id || source != "1" || id != 1 {
		t.Errorf("id %d, source %q, saved as %d", got.ID, source, id)
	}
	pr.ID = id
	if !reflect.DeepEqual(got, pr) {
		t.Errorf("profile changed through the database:\n got %+v\nwant %+v", got, pr)
	}
	for _, tg := range targets {
		if a, b := got.PredictMS(tg.Params), pr.PredictMS(tg.Params); a != b {
			t.Errorf("%v: %g ms after the round trip, %g before", tg.Params, a, b)
		}
	}
}

func TestCalibrateRefusesBeforeMeasuring(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	targets := smallTargets(t)[:3]
	bad := fhe.ParamsLiteral{GLWERank: 1, LogPolyDegree: 8, LWEDimension: 300, BRLevel: 1, BRLogBase: 20, KSLevel: 3, KSLogBase: 4}
	targets = append(targets, smallTarget(t, bad, 2, 0))
	calls := 0
	pr, err := calibration.Calibrate(ctx, targets, calibration.Options{Progress: func(calibration.Event) { calls++ }})
	if !errors.Is(err, calibration.ErrRefused) || !strings.Contains(err.Error(), "lwe_dimension 300 larger than k·N = 256") {
		t.Fatalf("error %v, want ErrRefused naming lwe_dimension", err)
	}
	if calls != 0 || len(pr.Measurements) != 0 {
		t.Errorf("%d progress events and %d measurements before refusing", calls, len(pr.Measurements))
	}
	if _, err := calibration.Calibrate(ctx, nil, calibration.Options{}); !errors.Is(err, calibration.ErrNoSets) {
		t.Errorf("no targets: %v, want ErrNoSets", err)
	}
	// Nothing was saved: the store still falls back to the default profile.
	if _, source, err := calibration.Latest(ctx, store); err != nil || source != calibration.SourceDefault {
		t.Errorf("Latest: source %q, error %v", source, err)
	}
}

func TestCalibrateCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	targets := smallTargets(t)[:4]
	_, err := calibration.Calibrate(ctx, targets, calibration.Options{Progress: func(e calibration.Event) {
		if e.Phase == calibration.PhaseRound && e.Round == 1 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}

func TestLatestFallsBackToDefault(t *testing.T) {
	ctx := context.Background()
	def, err := calibration.Default()
	if err != nil {
		t.Fatal(err)
	}
	if def.ID != 0 || def.Machine.CPU == "" || def.Command == "" || def.Created.IsZero() || def.TFHEGo == "" || len(def.Measurements) == 0 {
		t.Errorf("default profile lacks provenance: %+v", def.Machine)
	}
	for name, store := range map[string]calibration.ProfileStore{"nil store": nil, "empty database": openStore(t)} {
		t.Run(name, func(t *testing.T) {
			pr, source, err := calibration.Latest(ctx, store)
			if err != nil || source != calibration.SourceDefault || !reflect.DeepEqual(pr, def) {
				t.Errorf("source %q, error %v", source, err)
			}
		})
	}
	t.Run("bad payload", func(t *testing.T) {
		store := openStore(t)
		if _, err := store.SaveProfile(ctx, "m", json.RawMessage(`{"format": 99}`)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := calibration.Latest(ctx, store); !errors.Is(err, calibration.ErrBadProfile) {
			t.Errorf("error %v, want ErrBadProfile", err)
		}
	})
}

func TestDefaultProfilePredicts(t *testing.T) {
	def, err := calibration.Default()
	if err != nil {
		t.Fatal(err)
	}
	// Concrete's 4-, 6- and 8-bit sets must cost more as the precision grows.
	sets := []fhe.ParamsLiteral{
		{GLWERank: 2, LogPolyDegree: 10, LWEDimension: 801, BRLevel: 1, BRLogBase: 23, KSLevel: 3, KSLogBase: 4},
		{GLWERank: 1, LogPolyDegree: 12, LWEDimension: 881, BRLevel: 1, BRLogBase: 22, KSLevel: 4, KSLogBase: 4},
		{GLWERank: 1, LogPolyDegree: 14, LWEDimension: 1006, BRLevel: 2, BRLogBase: 15, KSLevel: 5, KSLogBase: 4},
	}
	prev := 0.0
	for _, l := range sets {
		p := l.MustCompile()
		ms := def.PredictMS(p)
		if !(ms > prev) {
			t.Errorf("%v: %g ms, not above the previous %g", l, ms, prev)
		}
		prev = ms
		if par := def.ParallelMS(p); !(par >= ms) {
			t.Errorf("%v: %g ms with every core busy, %g alone", l, par, ms)
		}
	}
}

// TestParallelMS checks the all-cores-busy time against the parallel model by hand.
func TestParallelMS(t *testing.T) {
	pr := calibration.Profile{
		Format:   calibration.Format,
		Model:    calibration.Model{Terms: []string{"ks_call", "br_call"}, Coef: []float64{1, 9}},
		Parallel: calibration.ParallelModel{Workers: 2, Scale: 1.5, MSPerMB: 0.01},
	}
	if err := pr.Validate(); err != nil {
		t.Fatal(err)
	}
	p := fhe.ParamsLiteral{GLWERank: 1, LogPolyDegree: 10, LWEDimension: 700, BRLevel: 1, BRLogBase: 20, KSLevel: 3, KSLogBase: 4}.MustCompile()
	// Keys: 700·2²·1·1024 = 2 867 200 bootstrap-key and (1024 − 700)·3·701 = 681 372
	// keyswitching-key words of 8 bytes, 28.388576 MB; single-core 1 + 9 = 10 ms.
	if got, want := pr.ParallelMS(p), 1.5*10+0.01*28.388576; math.Abs(got-want) > 1e-12*want || pr.Workers() != 2 {
		t.Errorf("parallel %.15g ms, want %.15g; %d workers", got, want, pr.Workers())
	}
	// One worker measured, or none recorded: the single-core time.
	for _, w := range []int{1, 0} {
		pr.Parallel.Workers = w
		if got := pr.ParallelMS(p); got != 10 || pr.Workers() != 1 {
			t.Errorf("workers %d: parallel %g ms, %d workers", w, got, pr.Workers())
		}
	}
}

func TestDecodeRefuses(t *testing.T) {
	cases := map[string]string{
		"not JSON":      `{`,
		"wrong format":  `{"format": 2}`,
		"no model":      `{"format": 1, "parallel": {"workers": 1, "scale": 1}}`,
		"bad parallel":  `{"format": 1, "model": {"terms": ["ks_mac"], "coef": [1]}, "parallel": {"workers": 0}}`,
		"negative coef": `{"format": 1, "model": {"terms": ["ks_mac"], "coef": [-1]}, "parallel": {"workers": 1, "scale": 1}}`,
		"negative dot":  `{"format": 1, "model": {"terms": ["ks_mac"], "coef": [1]}, "parallel": {"workers": 1, "scale": 1}, "dot_ns_per_coef": -1}`,
		"unknown term":  `{"format": 1, "model": {"terms": ["x"], "coef": [1]}, "parallel": {"workers": 1, "scale": 1}}`,
		"zero parallel": `{"format": 1, "model": {"terms": ["ks_mac"], "coef": [1]}, "parallel": {"workers": 2}}`,
	}
	for name, payload := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := calibration.Decode([]byte(payload)); !errors.Is(err, calibration.ErrBadProfile) {
				t.Errorf("Decode: %v, want ErrBadProfile", err)
			}
		})
	}
}

func TestCalibrateGroupsShareAnchors(t *testing.T) {
	targets := smallTargets(t)
	total := 0.0
	for _, tg := range targets {
		total += calibration.KeyBytes(tg.Params)
	}
	groups := map[int]int{} // set index → group
	pr, err := calibration.Calibrate(context.Background(), targets, calibration.Options{
		Measure:      calibration.MeasureOptions{Repeats: 2, Workers: -1, DotTerms: 4},
		MinRoundTime: -1,
		MaxKeyBytes:  total * 0.6, // two groups
		Progress: func(e calibration.Event) {
			if e.Phase == calibration.PhaseDone {
				groups[e.Index] = e.Group
				if e.Groups != 2 {
					t.Errorf("%d groups, want 2", e.Groups)
				}
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	// The first group's times stand as measured; the second's are scaled by the drift
	// its anchors saw, a factor near 1 on a steady machine.
	for i, m := range pr.Measurements {
		first := groups[i] == 0
		if (first && m.DriftScale != 1) || (!first && !(m.DriftScale > 0.5 && m.DriftScale < 2)) {
			t.Errorf("set %d in group %d: drift scale %g", i, groups[i], m.DriftScale)
		}
		if want := calibration.Median(m.SamplesMS); math.Abs(m.MS-want) > 1e-9*want {
			t.Errorf("set %d: %g ms, the median of its scaled samples is %g", i, m.MS, want)
		}
	}
}
