package tuner

import (
	"slices"
	"testing"

	"github.com/fhetune/fhetune/search"
	"github.com/fhetune/fhetune/studies"
)

// TestHistoryPassesFailedTrials: the sampler's history holds the usable complete trials
// and the failed trials with knobs, but not a failed trial that was interrupted, one that
// was re-run, or one whose knobs lie outside the space.
func TestHistoryPassesFailedTrials(t *testing.T) {
	knobs := map[string]float64{KnobNWBits: 3}
	r := &runner{recs: map[int]*trialRec{
		0: {number: 0, state: studies.Complete, hasParams: true, retryOf: -1, usable: true, internal: knobs, values: []float64{0.9, 10}},
		1: {number: 1, state: studies.Fail, hasParams: true, retryOf: -1, usable: true, internal: knobs},
		2: {number: 2, state: studies.Fail, hasParams: true, retryOf: -1, usable: true, internal: knobs, interrupted: true},
		3: {number: 3, state: studies.Fail, hasParams: true, retryOf: -1, usable: true, internal: knobs},
		4: {number: 4, state: studies.Complete, hasParams: true, retryOf: 3, usable: true, internal: knobs, values: []float64{0.8, 5}},
		5: {number: 5, state: studies.Fail, hasParams: true, retryOf: -1},
		6: {number: 6, state: studies.Pruned, hasParams: true, retryOf: -1, usable: true, internal: knobs},
	}}
	var got []string
	for _, tr := range r.history() {
		got = append(got, tr.State.String()+"#"+string(rune('0'+tr.Number)))
	}
	want := []string{"complete#0", "fail#1", "complete#4"}
	if !slices.Equal(got, want) {
		t.Fatalf("history %v, want %v", got, want)
	}
	if h := r.history(); h[1].Values != nil || h[1].State != search.Fail {
		t.Errorf("failed trial in the history: %+v, want knobs only", h[1])
	}
}
