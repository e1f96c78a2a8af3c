package calibration_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/fhetune/fhetune/fhe"
	"github.com/fhetune/fhetune/fhe/calibration"
)

func TestPlanSpreadsSets(t *testing.T) {
	o, err := fhe.NewOptimizer()
	if err != nil {
		t.Fatal(err)
	}
	targets, err := calibration.Plan(o, calibration.PlanOptions{MaxPrecision: 4, PErrors: []float64{6.3e-5, 1e-2}})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[fhe.ParamsLiteral]bool{}
	precisions := map[int]bool{}
	kN := map[[2]int]bool{}
	runnersUp, heldOut := 0, 0
	prev, maxOptimumKey, maxRunnerUpKey := 0.0, 0.0, 0.0
	for _, tg := range targets {
		if tg.HeldOut != strings.HasPrefix(tg.Label, "held out") {
			t.Errorf("%v: held out %v, label %q", tg.Params, tg.HeldOut, tg.Label)
		}
		if tg.HeldOut {
			// Held-out sets come last, at the geometric mean of the p_errors and at
			// log2 norm2 1, between the fit's 0 and 2.
			if heldOut == 0 {
				prev = 0
			}
			heldOut++
			if !strings.HasSuffix(tg.Label, "e=0.00079 L=1") || tg.Log2Norm2 != 1 || seen[tg.Params.Literal()] {
				t.Errorf("held-out set %v: %q, log2 norm2 %g", tg.Params, tg.Label, tg.Log2Norm2)
			}
		} else if heldOut > 0 {
			t.Errorf("fit set %v after held-out sets", tg.Params)
		}
		lit := tg.Params.Literal()
		if seen[lit] {
			t.Errorf("%v planned twice", lit)
		}
		seen[lit] = true
		precisions[tg.Precision] = true
		kN[[2]int{lit.GLWERank, lit.LogPolyDegree}] = true
		if strings.HasPrefix(tg.Label, "runner-up") {
			runnersUp++
			maxRunnerUpKey = max(maxRunnerUpKey, calibration.KeyBytes(tg.Params))
		} else {
			maxOptimumKey = max(maxOptimumKey, calibration.KeyBytes(tg.Params))
		}
		if c := tg.Params.PBSComplexity(); c < prev {
			t.Errorf("%v out of order: complexity %g after %g", lit, c, prev)
		} else {
			prev = c
		}
		if !(tg.PError > 0 && tg.PError <= 1e-2) {
			t.Errorf("%v: p_error %g", lit, tg.PError)
		}
		if _, err := calibration.TFHEParameters(tg); err != nil {
			t.Errorf("planned set refused: %v", err)
		}
	}
	if maxRunnerUpKey > 2*maxOptimumKey {
		t.Errorf("runner-up keys of %g bytes exceed twice the largest optimum's %g", maxRunnerUpKey, maxOptimumKey)
	}
	if heldOut < 2 {
		t.Errorf("%d held-out sets", heldOut)
	}
	if len(precisions) != 4 || runnersUp == 0 || len(kN) < 4 {
		t.Errorf("%d sets over precisions %v, %d runner-up sets, %d distinct (k, N)", len(targets), precisions, runnersUp, len(kN))
	}
}

func TestPlanRefuses(t *testing.T) {
	o, err := fhe.NewOptimizer()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		opts calibration.PlanOptions
		want string
	}{
		{"empty precision range", calibration.PlanOptions{MinPrecision: 5, MaxPrecision: 4}, "empty precision range 5..4"},
		{"precision above 16", calibration.PlanOptions{MaxPrecision: 17}, "precision range 1..17"},
		{"no p_error", calibration.PlanOptions{MaxPrecision: 2, PErrors: []float64{}}, "no p_error"},
		{"p_error of 1", calibration.PlanOptions{MaxPrecision: 2, PErrors: []float64{1}}, "p_error 1 outside (0, 1)"},
		{"no norm", calibration.PlanOptions{MaxPrecision: 2, Log2Norm2s: []float64{}}, "no log2 norm2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := calibration.Plan(o, c.opts)
			if !errors.Is(err, calibration.ErrNoSets) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want ErrNoSets with %q", err, c.want)
			}
		})
	}
}
