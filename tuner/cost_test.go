package tuner_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fhetune/fhetune/fhe"
	"github.com/fhetune/fhetune/fhe/calibration"
	"github.com/fhetune/fhetune/tuner"
)

// TestEnvCost checks the Env's choice of cost: calibrated milliseconds by default,
// Concrete's complexity on request, an unknown cost refused; and that Evaluate says
// which one chose the sets. On one core the estimate is the sum of what the optimizer
// minimizes, so the sets chosen by milliseconds are never estimated slower than
// Concrete's where those run on tfhe-go.
func TestEnvCost(t *testing.T) {
	ms := testEnv(t)
	if ms.Cost() != fhe.CostMS {
		t.Fatalf("default cost %q", ms.Cost())
	}
	cx, err := tuner.NewProfileEnv(testProfile(), "test", tuner.WithCost(fhe.CostComplexity))
	if err != nil {
		t.Fatal(err)
	}
	if cx.Cost() != fhe.CostComplexity {
		t.Fatalf("cost %q", cx.Cost())
	}
	if _, err := tuner.NewProfileEnv(testProfile(), "test", tuner.WithCost("fast")); !errors.Is(err, tuner.ErrKnobs) || !strings.Contains(err.Error(), `"fast"`) {
		t.Errorf("unknown cost: %v", err)
	}
	_, task := digitsTask(t)
	for _, k := range []tuner.Knobs{
		{NWBits: 4, NABits: 4, RoundingThresholdBits: 6, PError: 1e-3, Cores: 1},
		{NWBits: 3, NABits: 3, NInputBits: 4, PError: 1e-5, Cores: 1},
		{NWBits: 4, NABits: 4, RoundingThresholdBits: 5, RoundingMethod: "approximate", GlobalPError: 0.01, Cores: 1},
	} {
		rm, err := tuner.Evaluate(context.Background(), ms, task, k)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := tuner.Evaluate(context.Background(), cx, task, k)
		if err != nil {
			t.Fatal(err)
		}
		if rm.Cost != "ms" || rc.Cost != "complexity" {
			t.Fatalf("%+v: costs %q and %q", k, rm.Cost, rc.Cost)
		}
		runs := true
		for _, l := range rc.Layers {
			if p := l.Params; p != nil && p.LWEDimension > p.GLWERank<<p.LogPolyDegree {
				runs = false
			}
		}
		for _, l := range rm.Layers {
			if p := l.Params; p != nil && p.LWEDimension > p.GLWERank<<p.LogPolyDegree {
				t.Errorf("%+v: layer %s: ms chose %v with n > k·N", k, l.Name, *p)
			}
		}
		if runs && rm.LatencyMS > rc.LatencyMS*(1+1e-9) {
			t.Errorf("%+v: %.4g ms with the sets by ms, %.4g ms with Concrete's", k, rm.LatencyMS, rc.LatencyMS)
		}
		t.Logf("%+v: %.2f ms by ms, %.2f ms by complexity", k, rm.LatencyMS, rc.LatencyMS)
	}
}

// TestSpecCost: fhe.cost resolves to ms when left out (in a spec file and in a spec
// stored before the field existed), keeps complexity, and names the field and the value
// when it is neither.
func TestSpecCost(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{"name: x\n", "ms"},
		{"fhe: {cost: MS}\n", "ms"},
		{"fhe:\n  cost: complexity\n", "complexity"},
	} {
		s, err := tuner.ParseSpec([]byte(c.yaml), "cost.yaml")
		if err != nil {
			t.Fatal(err)
		}
		r, err := s.Resolve()
		if err != nil {
			t.Fatal(err)
		}
		if r.FHE.Cost != c.want {
			t.Errorf("%q: cost %q, want %q", c.yaml, r.FHE.Cost, c.want)
		}
	}
	r, err := tuner.Spec{}.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.JSON()
	if err != nil {
		t.Fatal(err)
	}
	old := withoutCost(t, b)
	back, err := tuner.SpecFromJSON(old)
	if err != nil {
		t.Fatal(err)
	}
	if back.FHE.Cost != "ms" {
		t.Errorf("a stored spec without cost resolves to %q", back.FHE.Cost)
	}
	_, err = tuner.Spec{FHE: tuner.FHESpec{Cost: "fast"}}.Resolve()
	var se *tuner.SpecError
	if !errors.As(err, &se) || se.Field != "fhe.cost" || !strings.Contains(err.Error(), `"fast"`) {
		t.Errorf("bad cost: %v", err)
	}
}

// withoutCost returns a stored spec with its fhe.cost field removed: the spec a study
// stored before the field existed.
func withoutCost(t *testing.T, spec []byte) []byte {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(spec, &m); err != nil {
		t.Fatal(err)
	}
	var f map[string]json.RawMessage
	if err := json.Unmarshal(m["fhe"], &f); err != nil {
		t.Fatal(err)
	}
	if _, ok := f["cost"]; !ok {
		t.Fatalf("stored spec has no fhe.cost: %s", spec)
	}
	delete(f, "cost")
	var err error
	if m["fhe"], err = json.Marshal(f); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRunJoinsStudyStoredWithoutCost: a study whose stored spec predates fhe.cost is
// joined by the same spec today (both resolve to ms) and resumes, while a spec that asks
// for complexity is refused as another study.
func TestRunJoinsStudyStoredWithoutCost(t *testing.T) {
	dir := t.TempDir()
	spec := modelSpec(t, dir)
	spec.Trials = 2
	path := filepath.Join(dir, "s.db")
	db := openStore(t, path)
	ctx := context.Background()
	if _, err := tuner.Run(ctx, db, newPlan(t, spec), tuner.WithEvaluator(fixtureEval)); err != nil {
		t.Fatal(err)
	}
	st, err := db.Study(ctx, tuner.DefaultStudyName)
	if err != nil {
		t.Fatal(err)
	}
	// Rewrite the stored spec as an earlier version stored it.
	raw, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.ExecContext(ctx, "UPDATE studies SET spec = ? WHERE id = ?", string(withoutCost(t, st.Spec)), st.ID); err != nil {
		t.Fatal(err)
	}
	if st, err = db.Study(ctx, tuner.DefaultStudyName); err != nil || strings.Contains(string(st.Spec), `"cost"`) {
		t.Fatalf("stored spec %s, %v", st.Spec, err)
	}
	resumed, err := tuner.ResumeSpec(st)
	if err != nil || resumed.FHE.Cost != "ms" {
		t.Fatalf("resume spec cost %q, %v", resumed.FHE.Cost, err)
	}
	spec.Trials = 3
	if sum, err := tuner.Run(ctx, db, newPlan(t, spec), tuner.WithEvaluator(fixtureEval)); err != nil || sum.Done != 3 {
		t.Fatalf("joining the old study: %+v, %v", sum, err)
	}
	other := spec
	other.FHE.Cost = "complexity"
	if _, err := tuner.Run(ctx, db, newPlan(t, other), tuner.WithEvaluator(fixtureEval)); !errors.Is(err, tuner.ErrStudyConflict) ||
		!strings.Contains(err.Error(), "differs in fhe") {
		t.Fatalf("a spec with cost complexity: %v", err)
	}
}

// TestProfileTimingKeepsTimerContract: the timing the Env prices sets with keeps the
// contract the milliseconds search relies on, for the built-in profile and the tests'.
func TestProfileTimingKeepsTimerContract(t *testing.T) {
	pr, err := calibration.Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, tm := range []tuner.ProfileTiming{{Profile: pr, Name: "default"}, {Profile: testProfile(), Name: "test"}} {
		if err := fhe.CheckTimer(tm, fhe.DefaultSecurity); err != nil {
			t.Errorf("%s: %v", tm.Name, err)
		}
	}
}
