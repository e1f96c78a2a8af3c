package calibration

import (
	"slices"
	"testing"
)

func TestMergeAttemptsKeepsLowerMedian(t *testing.T) {
	first := Measurement{MS: 13.2, KSMS: 1, Attempts: 1, Bootstraps: 10, Wrong: 1}
	cases := []struct {
		name      string
		again     Measurement
		ms, ks    float64
		discarded []float64
	}{
		{"second faster", Measurement{MS: 8.2, KSMS: 0.5, Bootstraps: 10}, 8.2, 0.5, []float64{13.2}},
		{"second slower", Measurement{MS: 14.0, KSMS: 2, Bootstraps: 10}, 13.2, 1, []float64{14.0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := mergeAttempts(first, c.again)
			if m.MS != c.ms || m.KSMS != c.ks || m.Attempts != 2 || m.Bootstraps != 20 || m.Wrong != 1 ||
				!slices.Equal(m.DiscardedMS, c.discarded) {
				t.Errorf("merged %+v", m)
			}
		})
	}
}
