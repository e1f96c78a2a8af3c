package studies_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"math"
	"testing"

	"github.com/fhetune/fhetune/studies"
)

func TestReportIntermediate(t *testing.T) { eachBackend(t, testReportIntermediate) }

// testReportIntermediate: a RUNNING trial reports values by step (a repeated step
// replaces its value); they come back with the trial through Trial, Trials and the
// front, stay after Prune and Complete, and are refused for finished and WAITING
// trials and for bad steps or values.
func testReportIntermediate(t *testing.T, b backend) {
	ctx := context.Background()
	s, _ := b.open(t)
	st := createStudy(t, s, "pruned")
	start := func() studies.Trial {
		t.Helper()
		tr, err := s.StartTrial(ctx, st.ID, "w")
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	report := func(tr studies.Trial, curve map[int]float64) {
		t.Helper()
		for step := range 4 {
			if v, ok := curve[step]; ok {
				if err := s.Report(ctx, tr.ID, step, v); err != nil {
					t.Fatalf("Report(trial %d, step %d): %v", tr.Number, step, err)
				}
			}
		}
	}

	done, pruned, quiet := start(), start(), start()
	report(done, map[int]float64{0: 0.5, 1: 0.7, 2: 0.1})
	if err := s.Report(ctx, done.ID, 2, 0.8); err != nil { // replaces 0.1
		t.Fatal(err)
	}
	report(pruned, map[int]float64{0: 0.4, 1: 0.45})
	if err := s.Complete(ctx, done.ID, []float64{0.8, 10}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Prune(ctx, pruned.ID, json.RawMessage(`{"pruned":{"epoch":1}}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.Complete(ctx, quiet.ID, []float64{0.9, 20}, nil); err != nil {
		t.Fatal(err)
	}

	want := map[int]map[int]float64{
		done.Number:   {0: 0.5, 1: 0.7, 2: 0.8},
		pruned.Number: {0: 0.4, 1: 0.45},
		quiet.Number:  nil,
	}
	ts, err := s.Trials(ctx, st.ID, studies.TrialFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 3 {
		t.Fatalf("%d trials, want 3", len(ts))
	}
	for _, tr := range ts {
		if !maps.Equal(tr.Intermediate, want[tr.Number]) || (want[tr.Number] == nil) != (tr.Intermediate == nil) {
			t.Errorf("trial %d (%s): intermediate %v, want %v", tr.Number, tr.State, tr.Intermediate, want[tr.Number])
		}
	}
	if got, err := s.Trial(ctx, pruned.ID); err != nil || got.State != studies.Pruned || !maps.Equal(got.Intermediate, want[pruned.Number]) {
		t.Errorf("Trial(pruned) = %v %v, %v", got.State, got.Intermediate, err)
	}
	got, err := s.Trials(ctx, st.ID, studies.TrialFilter{States: []studies.State{studies.Pruned}})
	if err != nil || len(got) != 1 || got[0].Number != pruned.Number {
		t.Fatalf("PRUNED trials: %v, %v", got, err)
	}
	front, err := s.ParetoFront(ctx, st.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range front {
		if f.State != studies.Complete {
			t.Errorf("trial %d on the front is %s", f.Number, f.State)
		}
		if f.Number == done.Number && !maps.Equal(f.Intermediate, want[done.Number]) {
			t.Errorf("front trial %d: intermediate %v", f.Number, f.Intermediate)
		}
	}
	sum, err := s.Summary(ctx, st.Name)
	if err != nil || sum.Trials.Pruned != 1 || sum.Trials.Complete != 2 {
		t.Errorf("Summary counts %+v, %v: want 1 pruned, 2 complete", sum.Trials, err)
	}
	b2, err := json.Marshal(ts[0])
	if err != nil {
		t.Fatal(err)
	}
	var back studies.Trial
	if err := json.Unmarshal(b2, &back); err != nil || !maps.Equal(back.Intermediate, ts[0].Intermediate) {
		t.Errorf("JSON round trip of intermediate values: %s → %v (%v)", b2, back.Intermediate, err)
	}

	running := start() // before the WAITING trial, which StartTrial would take first
	waiting, err := s.Enqueue(ctx, st.ID, []studies.Param{{Name: "x", Value: 1}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		id    int64
		step  int
		value float64
		want  error
	}{
		{"finished", done.ID, 3, 0.9, studies.ErrTrialFinished},
		{"pruned", pruned.ID, 2, 0.9, studies.ErrTrialFinished},
		{"waiting", waiting.ID, 0, 0.9, studies.ErrTrialNotRunning},
		{"no trial", 1 << 40, 0, 0.9, studies.ErrNoTrial},
		{"negative step", running.ID, -1, 0.9, studies.ErrInvalid},
		{"NaN", running.ID, 0, math.NaN(), studies.ErrInvalid},
		{"infinite", running.ID, 0, math.Inf(1), studies.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Report(ctx, tc.id, tc.step, tc.value); !errors.Is(err, tc.want) {
				t.Errorf("Report: %v, want %v", err, tc.want)
			}
		})
	}
	if tr, err := s.Trial(ctx, running.ID); err != nil || tr.Intermediate != nil {
		t.Errorf("refused reports left %v (%v)", tr.Intermediate, err)
	}
}
