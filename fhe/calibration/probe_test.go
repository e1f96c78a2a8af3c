package calibration_test

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/fhetune/fhetune/fhe/calibration"
)

// TestProbeTimesAnchors probes the built-in profile: the anchors are its three fitted
// sets with the smallest keys, each beside its own time in the profile, and the factor
// is the median of their ratios.
func TestProbeTimesAnchors(t *testing.T) {
	pr, err := calibration.Default()
	if err != nil {
		t.Fatal(err)
	}
	ms := slices.Clone(pr.Measurements)
	slices.SortStableFunc(ms, func(a, b calibration.Measurement) int {
		return cmp.Compare(calibration.KeyBytes(a.Set.MustCompile()), calibration.KeyBytes(b.Set.MustCompile()))
	})
	p, err := calibration.NewProbe(context.Background(), pr, 1)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // a second probe starts afresh
		rd, err := p.Speed(context.Background(), 3)
		if err != nil {
			t.Fatal(err)
		}
		as := rd.Anchors
		if len(as) != 3 {
			t.Fatalf("%d anchors, want 3", len(as))
		}
		ratios := make([]float64, len(as))
		parRatios := make([]float64, len(as))
		for i, a := range as {
			if want := ms[i].Set.MustCompile().String(); a.Set != want || a.ProfileMS != ms[i].MS || !(a.MS > 0) {
				t.Errorf("anchor %d: %+v, want set %s at %g ms in the profile", i, a, want, ms[i].MS)
			}
			// The built-in profile ran every set on all its cores at once.
			if want := ms[i].ParallelWallMS(); a.AllCoresProfileMS != want || !(want > 0) || !(a.AllCoresMS > 0) {
				t.Errorf("anchor %d: %+v, want %g ms with all cores busy in the profile", i, a, want)
			}
			ratios[i] = a.MS / a.ProfileMS
			parRatios[i] = a.AllCoresMS / a.AllCoresProfileMS
		}
		if want := calibration.Median(ratios); !(rd.Factor > 0) || rd.Factor < want*(1-1e-12) || rd.Factor > want*(1+1e-12) {
			t.Errorf("factor %g, want the median ratio %g (%v)", rd.Factor, want, ratios)
		}
		if want := calibration.Median(parRatios); rd.Workers != pr.Workers() || rd.AllCoresFactor < want*(1-1e-12) || rd.AllCoresFactor > want*(1+1e-12) {
			t.Errorf("all cores: factor %g on %d workers, want the median ratio %g (%v) on %d", rd.AllCoresFactor, rd.Workers, want, parRatios, pr.Workers())
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Speed(ctx, 3); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled probe: %v", err)
	}
}

// TestProbeNeedsMeasurements refuses a profile without measured sets.
func TestProbeNeedsMeasurements(t *testing.T) {
	pr, err := calibration.Default()
	if err != nil {
		t.Fatal(err)
	}
	pr.Measurements = slices.Clone(pr.Measurements) // the built-in profile is shared
	for i := range pr.Measurements {
		pr.Measurements[i].HeldOut = true
	}
	if _, err := calibration.NewProbe(context.Background(), pr, 1); !errors.Is(err, calibration.ErrNoSets) {
		t.Errorf("held-out sets only: %v", err)
	}
	pr.Measurements = nil
	if _, err := calibration.NewProbe(context.Background(), pr, 1); !errors.Is(err, calibration.ErrNoSets) {
		t.Errorf("no sets: %v", err)
	}
}
