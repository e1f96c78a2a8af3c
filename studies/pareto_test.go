package studies_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/fhetune/fhetune/studies"
)

// TestParetoFrontIncremental completes random trials through two stores on one file
// (as two processes would, each with its own cached front) and checks after every
// completion that the stored front equals the one recomputed from all trials. Values
// are drawn from a small grid so that ties and equal vectors occur.
func TestParetoFrontIncremental(t *testing.T) { eachBackend(t, testParetoFrontIncremental) }

func testParetoFrontIncremental(t *testing.T, b backend) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		objs []studies.Objective
	}{
		{"max-min", twoObjectives},
		{"min-max-min", []studies.Objective{
			{Name: "a", Direction: studies.Minimize}, {Name: "b", Direction: studies.Maximize}, {Name: "c", Direction: studies.Minimize}}},
		{"single", []studies.Objective{{Name: "loss", Direction: studies.Minimize}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s1, path := b.open(t)
			s2, err := studies.Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			defer s2.Close()
			st, err := s1.CreateStudy(ctx, studies.NewStudy{Name: "p", Objectives: c.objs})
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(11, 12))
			for i := range 120 {
				s := s1
				if rng.IntN(2) == 1 {
					s = s2
				}
				tr, err := s.StartTrial(ctx, st.ID, "w")
				if err != nil {
					t.Fatal(err)
				}
				if i%10 == 9 {
					if err := s.Prune(ctx, tr.ID, nil); err != nil {
						t.Fatal(err)
					}
					continue
				}
				vals := make([]float64, len(c.objs))
				for j := range vals {
					vals[j] = float64(rng.IntN(6))
				}
				if err := s.Complete(ctx, tr.ID, vals, nil); err != nil {
					t.Fatal(err)
				}
				trials, err := s.Trials(ctx, st.ID, studies.TrialFilter{})
				if err != nil {
					t.Fatal(err)
				}
				assertFront(t, s1, st, trials)
				assertFront(t, s2, st, trials)
				if t.Failed() {
					t.Fatalf("after trial %d", tr.Number)
				}
			}
		})
	}
}
