package calibration

import (
	"slices"
	"testing"
)

// TestMedianAttempt keeps the attempt of median time, whichever came first, and sums
// the counts of all.
func TestMedianAttempt(t *testing.T) {
	first := Measurement{MS: 13.2, KSMS: 1, Attempts: 1, Bootstraps: 10, Wrong: 1}
	cases := []struct {
		name      string
		again     []Measurement
		ms, ks    float64
		discarded []float64
	}{
		{"first is the median", []Measurement{{MS: 8.2, KSMS: 0.5, Bootstraps: 10}, {MS: 20, KSMS: 3, Bootstraps: 10}}, 13.2, 1, []float64{8.2, 20}},
		{"first is the fastest", []Measurement{{MS: 14.0, KSMS: 2, Bootstraps: 10}, {MS: 15, KSMS: 2.5, Bootstraps: 10}}, 14.0, 2, []float64{13.2, 15}},
		{"first is the slowest", []Measurement{{MS: 9, KSMS: 0.7, Bootstraps: 10}, {MS: 8, KSMS: 0.6, Bootstraps: 10}}, 9, 0.7, []float64{13.2, 8}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := medianAttempt(append([]Measurement{first}, c.again...))
			if m.MS != c.ms || m.KSMS != c.ks || m.Attempts != 3 || m.Bootstraps != 30 || m.Wrong != 1 ||
				!slices.Equal(m.DiscardedMS, c.discarded) {
				t.Errorf("kept %+v", m)
			}
		})
	}
}
