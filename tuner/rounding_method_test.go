package tuner_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fhetune/fhetune/search"
	"github.com/fhetune/fhetune/studies"
	"github.com/fhetune/fhetune/tuner"
)

// TestSpecRoundingForms reads every form of rounding_threshold_bits and rounding_method
// from a spec file and checks the resolved space, the search space and the fixed knobs.
func TestSpecRoundingForms(t *testing.T) {
	dir := t.TempDir()
	methods := search.Param{Name: "rounding_method", Kind: search.Categorical, Choices: []string{"exact", "approximate"}}
	for _, c := range []struct {
		name, space string
		rounding    string // resolved rounding_threshold_bits
		method      string // resolved rounding_method
		searched    bool   // rounding_method is a parameter of the search space
		fixed       float64
	}{
		{"absent", "", "[3, 8, off]", "[exact, approximate]", true, 0},
		{"integer", "rounding_threshold_bits: 6", "6", "[exact, approximate]", true, 0},
		{"range", "rounding_threshold_bits: [2, 8]", "[2, 8]", "[exact, approximate]", true, 0},
		{"range or off", "rounding_threshold_bits: [3, 8, off]", "[3, 8, off]", "[exact, approximate]", true, 0},
		{"off", "rounding_threshold_bits: off", "off", "exact", false, 0},
		{"dict", "rounding_threshold_bits: {n_bits: 6, method: approximate}", "6", "approximate", false, 1},
		{"dict upper case", "rounding_threshold_bits: {n_bits: 5, method: EXACT}", "5", "exact", false, 0},
		{"dict range", "rounding_threshold_bits: {n_bits: [3, 8], method: approximate}", "[3, 8]", "approximate", false, 1},
		{"dict range or off", "rounding_threshold_bits: {n_bits: [4, 6, off], method: approximate}", "[4, 6, off]", "approximate", false, 1},
		{"dict without method", "rounding_threshold_bits: {n_bits: 7}", "7", "[exact, approximate]", true, 0},
		{"block dict", "rounding_threshold_bits:\n    n_bits: [2, 4]\n    method: approximate", "[2, 4]", "approximate", false, 1},
		{"method fixed", "rounding_method: approximate", "[3, 8, off]", "approximate", false, 1},
		{"method exact", "rounding_method: exact", "[3, 8, off]", "exact", false, 0},
		{"method searched", "rounding_method: [exact, approximate]", "[3, 8, off]", "[exact, approximate]", true, 0},
		{"method searched, other order", "rounding_method: [Approximate, exact]", "[3, 8, off]", "[exact, approximate]", true, 0},
		{"method list of one", "rounding_method: [approximate]", "[3, 8, off]", "approximate", false, 1},
		{"dict agrees with method", "rounding_threshold_bits: {n_bits: 4, method: approximate}\n  rounding_method: approximate",
			"4", "approximate", false, 1},
		{"fixed method, rounding off", "rounding_threshold_bits: off\n  rounding_method: approximate", "off", "approximate", false, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			text := "name: r\nspace:\n  n_w_bits: [2, 4]\n"
			if c.space != "" {
				text += "  " + c.space + "\n"
			}
			s, err := tuner.LoadSpec(writeFile(t, dir, "spec.yaml", text))
			if err != nil {
				t.Fatal(err)
			}
			r, err := s.Resolve()
			if err != nil {
				t.Fatal(err)
			}
			sp := r.Space
			if sp.RoundingThresholdBits.String() != c.rounding || sp.RoundingThresholdBits.Method != "" ||
				sp.RoundingMethod == nil || sp.RoundingMethod.String() != c.method {
				t.Fatalf("resolved rounding_threshold_bits %v, rounding_method %v; want %s and %s",
					sp.RoundingThresholdBits, sp.RoundingMethod, c.rounding, c.method)
			}
			// The resolved spec reads back from its JSON unchanged.
			b, err := r.JSON()
			if err != nil {
				t.Fatal(err)
			}
			back, err := tuner.SpecFromJSON(b)
			if err != nil {
				t.Fatal(err)
			}
			if b2, _ := back.JSON(); string(b2) != string(b) {
				t.Fatalf("JSON round trip:\n%s\n%s", b, b2)
			}
			p, err := tuner.NewPlan(s)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := p.Space().Lookup("rounding_method")
			if ok != c.searched || ok && !slices.Equal(got.Choices, methods.Choices) || ok && got.Kind != search.Categorical {
				t.Fatalf("rounding_method in the search space: %v (%v), want %v", ok, got, c.searched)
			}
			if v, fixed := p.Fixed()["rounding_method"]; fixed == c.searched || fixed && v != c.fixed {
				t.Fatalf("fixed rounding_method %v (%v), want %v", v, fixed, c.fixed)
			}
			searched := slices.Contains(tuner.SearchedKnobs(r), "rounding_method")
			if searched != c.searched {
				t.Fatalf("SearchedKnobs %v", tuner.SearchedKnobs(r))
			}
		})
	}
}

// TestSpecRoundingBadInput: each bad rounding input is a *SpecError naming the line, the
// field and the value.
func TestSpecRoundingBadInput(t *testing.T) {
	for _, c := range []struct {
		name, yaml string
		line       int
		want       []string
	}{
		{"rounding 1", "space:\n  rounding_threshold_bits: 1\n", 2,
			[]string{"space.rounding_threshold_bits", "1 is outside 2..8, the range Concrete ML accepts"}},
		{"rounding 9", "space:\n  rounding_threshold_bits: 9\n", 2,
			[]string{"space.rounding_threshold_bits", "9 is outside 2..8, the range Concrete ML accepts"}},
		{"range from 1", "space:\n  rounding_threshold_bits: [1, 8, off]\n", 2, []string{"[1, 8, off]: 1 is outside 2..8"}},
		{"range to 16", "space:\n  rounding_threshold_bits: [4, 16]\n", 2, []string{"[4, 16]: 16 is outside 2..8"}},
		{"dict 9", "space:\n  rounding_threshold_bits: {n_bits: 9, method: exact}\n", 2, []string{"9 is outside 2..8"}},
		{"dict range to 9", "space:\n  rounding_threshold_bits:\n    n_bits: [3, 9]\n    method: exact\n", 3,
			[]string{"[3, 9]: 9 is outside 2..8"}},
		{"unknown method", "space:\n  n_w_bits: 4\n  rounding_method: fast\n", 3,
			[]string{"space.rounding_method", `unknown method "fast" (known: exact, approximate)`}},
		{"unknown method in a list", "space:\n  rounding_method: [exact, fastest]\n", 2,
			[]string{"space.rounding_method", `unknown method "fastest"`}},
		{"unknown method in the dict", "space:\n  rounding_threshold_bits:\n    n_bits: 6\n    method: rough\n", 4,
			[]string{"space.rounding_threshold_bits.method", `unknown method "rough"`}},
		{"method given twice", "space:\n  rounding_method: [exact, Exact]\n", 2, []string{"given twice"}},
		{"empty method list", "space:\n  rounding_method: []\n", 2, []string{"space.rounding_method", "empty list"}},
		{"conflicting method", "space:\n  rounding_threshold_bits:\n    n_bits: 6\n    method: approximate\n  rounding_method: exact\n", 4,
			[]string{"space.rounding_threshold_bits.method", "approximate conflicts with space.rounding_method exact"}},
		{"conflicting search", "space:\n  rounding_threshold_bits: {n_bits: [3, 8], method: exact}\n  rounding_method: [exact, approximate]\n", 2,
			[]string{"space.rounding_threshold_bits.method", "exact conflicts with space.rounding_method [exact, approximate]"}},
		{"method of another knob", "space:\n  n_w_bits: {n_bits: 4, method: exact}\n", 2,
			[]string{"space.n_w_bits", "only rounding_threshold_bits takes a method"}},
		{"n_bits and low", "space:\n  rounding_threshold_bits: {n_bits: 6, low: 3, high: 8}\n", 2, []string{"not both"}},
		{"method without n_bits", "space:\n  rounding_threshold_bits: {method: exact}\n", 2, []string{"a method goes with n_bits"}},
		{"nested dict", "space:\n  rounding_threshold_bits: {n_bits: {n_bits: 6}}\n", 2, []string{"n_bits: want a number"}},
		{"n_bits auto", "space:\n  rounding_threshold_bits: {n_bits: auto}\n", 2, []string{`"auto" is not a finite number`}},
		{"method as a mapping", "space:\n  rounding_method: {name: exact}\n", 2, []string{"want exact, approximate or [exact, approximate]"}},
		{"searching the method without rounding", "space:\n  rounding_threshold_bits: off\n  rounding_method: [exact, approximate]\n", 3,
			[]string{"space.rounding_method", "does nothing with rounding_threshold_bits off"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := tuner.ParseSpec([]byte(c.yaml), "bad.yaml")
			if err == nil {
				_, err = tuner.NewPlan(s)
			}
			var se *tuner.SpecError
			if !errors.As(err, &se) || !errors.Is(err, tuner.ErrStudySpec) {
				t.Fatalf("error %v (%T), want a *SpecError", err, err)
			}
			msg := err.Error()
			if se.Line != c.line || !strings.HasPrefix(msg, "tuner: spec bad.yaml: line ") || strings.Contains(msg, "\n") {
				t.Fatalf("error %q (line %d), want line %d", msg, se.Line, c.line)
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Fatalf("error %q does not say %q", msg, w)
				}
			}
		})
	}
}

func TestParseRangeDict(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"{n_bits: 6, method: approximate}", "{n_bits: 6, method: approximate}"},
		{"{n_bits: [3, 8, off], method: exact}", "{n_bits: [3, 8, off], method: exact}"},
		{"{n_bits: off}", "off"},
		{"{n_bits: 4}", "4"},
		{"{low: 2, high: 8, step: 2, method: approximate}", "{n_bits: [2, 8] step 2, method: approximate}"},
	} {
		r, err := tuner.ParseRange(c.in)
		if err != nil || r.String() != c.want {
			t.Errorf("ParseRange(%q) = %v, %v; want %s", c.in, r, err, c.want)
			continue
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var back tuner.Range
		if err := json.Unmarshal(b, &back); err != nil || back.String() != c.want {
			t.Errorf("JSON %s of %q reads back as %v, %v", b, c.in, back, err)
		}
	}
	for _, bad := range []string{"{n_bits: 6, low: 1, high: 2}", "{method: exact}", "{n_bits: {low: 1, high: 2}}",
		"{n_bits: 6, method: [exact]}", "{n_bits: 6, n_bits: 7}"} {
		if _, err := tuner.ParseRange(bad); err == nil {
			t.Errorf("ParseRange(%q) succeeded", bad)
		}
	}
}

func TestParseMethodChoice(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"exact", "exact"}, {"approximate", "approximate"}, {"both", "[exact, approximate]"}, {"BOTH", "[exact, approximate]"},
		{"exact,approximate", "[exact, approximate]"}, {"[approximate, exact]", "[approximate, exact]"}, {"Exact", "Exact"},
	} {
		m, err := tuner.ParseMethodChoice(c.in)
		if err != nil || m.String() != c.want {
			t.Errorf("ParseMethodChoice(%q) = %v, %v; want %s", c.in, m, err, c.want)
		}
	}
	for _, bad := range []string{"", "fast", "exact,", "exact,exact", "exact approximate"} {
		if _, err := tuner.ParseMethodChoice(bad); err == nil {
			t.Errorf("ParseMethodChoice(%q) succeeded", bad)
		}
	}
	_, err := tuner.ParseMethodChoice("fast")
	if err == nil || !strings.Contains(err.Error(), `unknown method "fast"`) {
		t.Errorf("ParseMethodChoice(fast): %v", err)
	}
}

func TestKnobsOfRoundingMethod(t *testing.T) {
	param := func(name string, v float64) studies.Param { return studies.Param{Name: name, Value: v} }
	for _, c := range []struct {
		name   string
		params []studies.Param
		want   string
		value  float64 // KnobValues
	}{
		{"exact", []studies.Param{param("n_w_bits", 4), param("rounding_method", 0)}, "exact", 0},
		{"approximate", []studies.Param{param("n_w_bits", 4), param("rounding_method", 1)}, "approximate", 1},
		{"stored before the knob", []studies.Param{param("n_w_bits", 4)}, "", 0},
	} {
		k := tuner.KnobsOf(c.params, tuner.FHESpec{})
		if k.RoundingMethod != c.want {
			t.Errorf("%s: KnobsOf rounding method %q, want %q", c.name, k.RoundingMethod, c.want)
		}
		if v, ok := tuner.KnobValues(c.params)["rounding_method"]; !ok || v != c.value {
			t.Errorf("%s: KnobValues rounding_method %v (%v), want %v", c.name, v, ok, c.value)
		}
	}
	// A stored value that names no method is refused by Knobs.Check.
	k := tuner.KnobsOf([]studies.Param{param("n_w_bits", 4), param("n_a_bits", 4), param("rounding_method", 3)}, tuner.FHESpec{})
	if err := k.Check(); !errors.Is(err, tuner.ErrKnobs) {
		t.Errorf("rounding_method 3: Check = %v, want ErrKnobs", err)
	}
	for v, want := range map[float64]string{0: "exact", 1: "approximate"} {
		if got, ok := tuner.KnobLabel("rounding_method", v); !ok || got != want {
			t.Errorf("KnobLabel(rounding_method, %v) = %q, %v", v, got, ok)
		}
	}
	for _, c := range []struct {
		name string
		v    float64
	}{{"rounding_method", 2}, {"rounding_method", 0.5}, {"n_w_bits", 0}} {
		if got, ok := tuner.KnobLabel(c.name, c.v); ok {
			t.Errorf("KnobLabel(%s, %v) = %q", c.name, c.v, got)
		}
	}
}

// TestRunSearchesRoundingMethod runs a grid study over both rounding methods and three
// rounding widths (real objective, digits, every other knob fixed): every trial stores
// its method, the evaluation echoes it, exact rounding pays bit extractions that
// approximate rounding does not, and export-config names the method.
func TestRunSearchesRoundingMethod(t *testing.T) {
	dir := t.TempDir()
	spec := modelSpec(t, dir)
	text := "name: methods\nsampler: grid\ntrials: 10\nspace:\n  n_w_bits: 4\n  n_a_bits: 4\n  pruning: 0\n  p_error: 0.01\n" +
		"  rounding_threshold_bits: [4, 6]\n  rounding_method: [exact, approximate]\n"
	s, err := tuner.LoadSpec(writeFile(t, dir, "methods.yaml", text))
	if err != nil {
		t.Fatal(err)
	}
	s.Model = spec.Model
	plan := newPlan(t, s)
	if plan.GridSize() != 6 || plan.Spec().Trials != 6 {
		t.Fatalf("grid size %d, trials %d", plan.GridSize(), plan.Spec().Trials)
	}
	db := openStore(t, filepath.Join(dir, "s.db"))
	var reported []string
	progress := func(p tuner.Progress) {
		if p.Last != nil {
			m, _ := tuner.KnobLabel("rounding_method", p.Last.Knobs["rounding_method"])
			reported = append(reported, m)
		}
	}
	if _, err := tuner.Run(context.Background(), db, plan, tuner.WithProgress(progress)); err != nil {
		t.Fatal(err)
	}
	st, ts := allTrials(t, db, "methods")
	if len(ts) != 6 {
		t.Fatalf("%d trials", len(ts))
	}
	pbs := map[[2]float64]int{} // (rounding bits, method) → PBS count
	for _, tr := range ts {
		if tr.State != studies.Complete {
			t.Fatalf("trial %s", trialText(tr))
		}
		p, ok := tr.Param("rounding_method")
		if !ok || !strings.Contains(string(p.Distribution), `"choices":["exact","approximate"]`) {
			t.Fatalf("trial %d: rounding_method %+v", tr.Number, p)
		}
		k := tuner.KnobValues(tr.Params)
		res, ok, err := tuner.TrialResult(tr)
		if !ok || err != nil {
			t.Fatalf("trial %d result: %v %v", tr.Number, ok, err)
		}
		want, _ := tuner.KnobLabel("rounding_method", k["rounding_method"])
		if res.Knobs.RoundingMethod != want || tuner.KnobsOf(tr.Params, tuner.FHESpec{}).RoundingMethod != want {
			t.Fatalf("trial %d: stored %v, evaluated with %q, want %q", tr.Number, k["rounding_method"], res.Knobs.RoundingMethod, want)
		}
		for _, l := range res.Layers {
			if l.LSBsRemoved > 0 && l.Rounding != want {
				t.Fatalf("trial %d layer %s rounds %q, want %q", tr.Number, l.Name, l.Rounding, want)
			}
		}
		pbs[[2]float64{k["rounding_threshold_bits"], k["rounding_method"]}] = res.PBSCount

		cfg, err := tuner.ConcreteConfigOf(st, tr, nil)
		if err != nil {
			t.Fatal(err)
		}
		rtb := cfg.CompileArgs.RoundingThresholdBits
		if rtb == nil || float64(rtb.NBits) != k["rounding_threshold_bits"] || rtb.Method != strings.ToUpper(want) {
			t.Fatalf("trial %d: export-config rounding_threshold_bits %+v", tr.Number, rtb)
		}
	}
	if len(pbs) != 6 {
		t.Fatalf("grid points %v", pbs)
	}
	for _, bits := range []float64{4, 5, 6} {
		if exact, approx := pbs[[2]float64{bits, 0}], pbs[[2]float64{bits, 1}]; exact <= approx {
			t.Errorf("rounding to %v bits: exact %d bootstraps, approximate %d; exact should pay bit extractions", bits, exact, approx)
		}
	}
	slices.Sort(reported)
	if !slices.Equal(reported, []string{"approximate", "approximate", "approximate", "exact", "exact", "exact"}) {
		t.Errorf("progress reported methods %v", reported)
	}
}
