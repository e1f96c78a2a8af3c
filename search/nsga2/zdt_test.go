package nsga2_test

import (
	"testing"

	"github.com/fhetune/fhetune/search/nsga2"
	"github.com/fhetune/fhetune/search/searchtest"
)

// TestZDT runs NSGA-II for 10,000 evaluations on ZDT1 and ZDT2 with 30 variables and
// checks that the hypervolume of everything it evaluated, for the reference point
// (1.1, 1.1), reaches 95% of the true front's (computed analytically). The defaults reach
// at least 96.8% over seeds 0–19 (see the package doc); one seed keeps the test fast.
func TestZDT(t *testing.T) {
	const ref = 1.1
	cases := []struct {
		problem searchtest.Problem
		trueHV  float64
	}{
		{searchtest.ZDT1(30), searchtest.ZDT1Hypervolume(ref)},
		{searchtest.ZDT2(30), searchtest.ZDT2Hypervolume(ref)},
	}
	for _, c := range cases {
		t.Run(c.problem.Name, func(t *testing.T) {
			for _, seed := range []int64{0} {
				s, err := nsga2.New(nsga2.WithSeed(seed))
				if err != nil {
					t.Fatal(err)
				}
				history, err := searchtest.Run(s, c.problem, 10000)
				if err != nil {
					t.Fatal(err)
				}
				hv := searchtest.Hypervolume(history, c.problem.Dirs, []float64{ref, ref})
				t.Logf("seed %d: hypervolume %.4f of %.4f (%.1f%%)", seed, hv, c.trueHV, 100*hv/c.trueHV)
				if hv < 0.95*c.trueHV {
					t.Errorf("seed %d: hypervolume %.4f < 95%% of %.4f", seed, hv, c.trueHV)
				}
			}
		})
	}
}
