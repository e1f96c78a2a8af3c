package main

import (
	"bytes"
	"encoding/json"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// runCLI runs fhetune with args and returns its exit code, stdout and stderr.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestParamsJSON(t *testing.T) {
	code, out, errs := runCLI(t, "params", "--precision", "4", "--log2-norm2", "0", "--p-error", "6.3e-5", "--json")
	if code != 0 || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, out)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"accumulator_bits", "bootstraps", "br_level", "br_log2_base", "calibration", "complexity", "cost", "glwe_dimension", "ks_level", "ks_log2_base",
		"log2_norm2", "log2_polynomial_size", "lwe_dimension", "p_error", "p_error_target", "parts", "precision", "predicted_ms",
		"rounding_method", "tlu_ms", "variance"}
	if !slices.Equal(keys, want) {
		t.Errorf("JSON fields %v, want %v", keys, want)
	}
	var r paramsResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.PError > r.PErrorTarget || r.PErrorTarget != 6.3e-5 || r.Precision != 4 || r.Log2Norm2 != 0 {
		t.Errorf("p_error %g, target %g, precision %d, log2 norm2 %g", r.PError, r.PErrorTarget, r.Precision, r.Log2Norm2)
	}
	// Concrete picks n = 801 at its 6.334e-5; 6.3e-5 is a little tighter.
	if r.GLWERank != 2 || r.LogPolyDegree != 10 || r.LWEDimension != 802 || r.BRLevel != 1 || r.BRLogBase != 23 || r.KSLevel != 3 || r.KSLogBase != 4 {
		t.Errorf("set %v", r.ParamsLiteral)
	}
	if r.Complexity != 79854814 || !(r.Variance > 0) {
		t.Errorf("complexity %g, variance %g", r.Complexity, r.Variance)
	}
	if r.Cost != "complexity" || !(r.TLUMS > r.PredictedMS) {
		t.Errorf("cost %q, tlu_ms %g (KS+PBS alone %g ms)", r.Cost, r.TLUMS, r.PredictedMS)
	}
}

// TestParamsCostMS checks --cost ms: a set the noise model accepts at the same p_error,
// never predicted slower than Concrete's choice, and one that differs from it where the
// calibration ranks sets otherwise (1 bit at log2 norm2 10).
func TestParamsCostMS(t *testing.T) {
	query := func(extra ...string) paramsResult {
		t.Helper()
		args := append([]string{"params", "--precision", "1", "--log2-norm2", "10", "--p-error", "6.334e-5", "--json"}, extra...)
		code, out, errs := runCLI(t, args...)
		if code != 0 || errs != "" {
			t.Fatalf("%v: exit %d, stderr %q", args, code, errs)
		}
		var r paramsResult
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	c, m := query(), query("--cost", "ms")
	if c.Cost != "complexity" || m.Cost != "ms" {
		t.Fatalf("costs %q and %q", c.Cost, m.Cost)
	}
	if m.ParamsLiteral == c.ParamsLiteral || !(m.TLUMS < c.TLUMS) || !(m.Complexity > c.Complexity) {
		t.Errorf("ms picks %v (%g ms, complexity %g), complexity picks %v (%g ms, complexity %g)",
			m.ParamsLiteral, m.TLUMS, m.Complexity, c.ParamsLiteral, c.TLUMS, c.Complexity)
	}
	if m.PError > m.PErrorTarget || m.LWEDimension > m.GLWERank<<m.LogPolyDegree {
		t.Errorf("ms set %v: p_error %g above %g, or n > k·N", m.ParamsLiteral, m.PError, m.PErrorTarget)
	}
	r := query("--cost", "ms", "--accumulator-bits", "4")
	if r.Cost != "ms" || !(r.TLUMS > 0) || r.Bootstraps != 4 {
		t.Errorf("rounded TLU by ms: %+v", r)
	}
	code, out, _ := runCLI(t, "params", "--precision", "1", "--log2-norm2", "10", "--p-error", "6.334e-5", "--cost", "ms", "--alternatives", "2")
	if code != 0 || !regexp.MustCompile(`chosen by +ms \(--cost\)`).MatchString(out) ||
		!regexp.MustCompile(`cheapest set per \(k, N\) +ms +vs chosen`).MatchString(out) {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

func TestParamsExplains(t *testing.T) {
	code, out, errs := runCLI(t, "params", "--precision", "4", "--log2-norm2", "0", "--p-error", "6.3e-5", "--alternatives", "3")
	if code != 0 || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	for _, want := range []string{"k=2 N=2^10 n=802 br=1x23 ks=3x4", "variance at decoding", "keyswitch", "modulus switch",
		"of which FFT error", "bound", "complexity of one TLU", "bootstrap", "cheapest set per (k, N)", "k=1 N=2^11", "more"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runCLI(t, "params", "--precision", "2", "--log2-norm2", "1.5", "--p-error", "1e-9", "--alternatives", "0", "--sum-size", "10")
	if code != 0 || strings.Contains(out, "cheapest set per") || !strings.Contains(out, "sum size 10") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

func TestParamsNoSolution(t *testing.T) {
	code, out, errs := runCLI(t, "params", "--precision", "8", "--log2-norm2", "25", "--p-error", "1e-6", "--json")
	if code != 1 || out != "" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
	for _, want := range []string{"fhetune: params:", "precision 8", "log2 norm2 25", "p_error 1e-06"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr %q lacks %q", errs, want)
		}
	}
	if strings.Count(errs, "\n") != 1 {
		t.Errorf("error is not one line: %q", errs)
	}
}

func TestParamsBadInput(t *testing.T) {
	q := []string{"params", "--precision", "4", "--log2-norm2", "0", "--p-error", "1e-3"}
	with := func(extra ...string) []string { return append(slices.Clone(q), extra...) }
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"precision 0", []string{"params", "--precision", "0", "--log2-norm2", "0", "--p-error", "1e-3"}, "--precision 0"},
		{"precision 17", []string{"params", "--precision", "17", "--log2-norm2", "0", "--p-error", "1e-3"}, "--precision 17"},
		{"p_error 0", []string{"params", "--precision", "4", "--log2-norm2", "0", "--p-error", "0"}, "--p-error 0"},
		{"p_error 1", []string{"params", "--precision", "4", "--log2-norm2", "0", "--p-error", "1"}, "--p-error 1"},
		{"p_error -1e-3", []string{"params", "--precision", "4", "--log2-norm2", "0", "--p-error", "-1e-3"}, "--p-error"},
		{"p_error text", []string{"params", "--precision", "4", "--log2-norm2", "0", "--p-error", "often"}, "often"},
		{"security 100", with("--security", "100"), "--security 100"},
		{"negative norm2", []string{"params", "--precision", "4", "--log2-norm2", "-1", "--p-error", "1e-3"}, "--log2-norm2 -1"},
		{"sum size 0", with("--sum-size", "0"), "--sum-size 0"},
		{"missing p_error", []string{"params", "--precision", "4", "--log2-norm2", "0"}, "--p-error is required"},
		{"missing precision", []string{"params", "--log2-norm2", "0", "--p-error", "1e-3"}, "--precision is required"},
		{"missing norm2", []string{"params", "--precision", "4", "--p-error", "1e-3"}, "--log2-norm2 is required"},
		{"table with precision", []string{"params", "--table", "--precision", "4"}, "--precision does not go with --table"},
		{"max-precision without table", with("--max-precision", "4"), "--max-precision needs --table"},
		{"max-precision 17", []string{"params", "--table", "--max-precision", "17"}, "--max-precision 17"},
		{"max-log2-norm2 65", []string{"params", "--table", "--max-log2-norm2", "65"}, "--max-log2-norm2 65"},
		{"table security 7", []string{"params", "--table", "--security", "7"}, "--security 7"},
		{"argument", with("extra"), "extra"},
		{"unknown flag", with("--bits", "4"), "--bits"},
		{"accumulator below precision", with("--accumulator-bits", "3"), "--accumulator-bits 3"},
		{"accumulator 33", with("--accumulator-bits", "33"), "--accumulator-bits 33"},
		{"rounding method", with("--accumulator-bits", "8", "--rounding-method", "fast"), `--rounding-method "fast"`},
		{"table with accumulator", []string{"params", "--table", "--accumulator-bits", "8"}, "--accumulator-bits does not go with --table"},
		{"cost", with("--cost", "fast"), `--cost "fast"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out, errs := runCLI(t, c.args...)
			if code != 2 || out != "" {
				t.Errorf("exit %d, stdout %q, stderr %q", code, out, errs)
			}
			if !strings.HasPrefix(errs, "fhetune: ") || !strings.Contains(errs, c.want) {
				t.Errorf("stderr %q does not name %q", errs, c.want)
			}
		})
	}
}

func TestParamsRoundedTLU(t *testing.T) {
	query := func(extra ...string) paramsResult {
		t.Helper()
		args := append([]string{"params", "--precision", "6", "--log2-norm2", "4", "--p-error", "1e-5", "--json"}, extra...)
		code, out, errs := runCLI(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d, stderr %q", extra, code, errs)
		}
		var r paramsResult
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	plain, same := query(), query("--accumulator-bits", "6")
	if plain.Bootstraps != 1 || plain.AccumulatorBits != 6 || same.Complexity != plain.Complexity || same.ParamsLiteral != plain.ParamsLiteral {
		t.Errorf("L = P: %+v, plain %+v", same, plain)
	}
	// A 10-bit accumulator rounded exactly to 6 bits: 4 extractions and the TLU, each a
	// keyswitch + bootstrap of the one set; the parts add up to the whole.
	exact := query("--accumulator-bits", "10")
	if exact.Bootstraps != 5 || exact.RoundingMethod != "exact" || len(exact.Parts) != 2 || exact.Parts[0].Count != 4 {
		t.Fatalf("exact: %+v", exact)
	}
	sum, ms := 0.0, 0.0
	for _, p := range exact.Parts {
		sum += p.Complexity
		ms += p.PredictedMS
		if !(p.PError <= 1e-5) {
			t.Errorf("part %+v above the target", p)
		}
	}
	if math.Abs(sum-exact.Complexity) > 1e-9*sum || math.Abs(ms-exact.PredictedMS) > 1e-9*ms ||
		math.Abs(exact.PredictedMS-5*exact.Parts[1].PredictedMS) > 1e-9*ms {
		t.Errorf("parts %+v do not add up to %v, %v ms", exact.Parts, exact.Complexity, exact.PredictedMS)
	}
	approx := query("--accumulator-bits", "10", "--rounding-method", "approximate")
	wide := query("--precision", "10")
	if approx.Bootstraps != 1 || !(approx.Complexity < exact.Complexity) || !(exact.Complexity < wide.Complexity) {
		t.Errorf("approximate %v, exact %v, unrounded 10-bit %v", approx.Complexity, exact.Complexity, wide.Complexity)
	}
	code, out, _ := runCLI(t, "params", "--precision", "6", "--accumulator-bits", "10", "--log2-norm2", "4", "--p-error", "1e-5")
	if code != 0 || !strings.Contains(out, "rounded to 6 bits (exact)") || !strings.Contains(out, "extraction") {
		t.Errorf("text output:\n%s", out)
	}
}

func TestParamsTable(t *testing.T) {
	code, out, errs := runCLI(t, "params", "--table", "--json")
	if code != 0 || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	var tab paramsTable
	if err := json.Unmarshal([]byte(out), &tab); err != nil {
		t.Fatal(err)
	}
	if len(tab.Rows) != 8*31 || tab.Security != 128 || tab.SumSize != 4096 {
		t.Fatalf("%d rows, security %d, sum size %d", len(tab.Rows), tab.Security, tab.SumSize)
	}
	none := 0
	for _, r := range tab.Rows {
		if r.Solution == nil {
			none++
			continue
		}
		if r.Solution.PError > tab.PErrorTarget || r.Solution.Precision != r.Precision || r.Solution.Log2Norm2 != r.Log2Norm2 {
			t.Errorf("row %d/%g: %+v", r.Precision, r.Log2Norm2, r.Solution)
		}
	}
	// At the default (Concrete's 6.334e-5) precision 4, norm2 1 is Concrete's set, and
	// precision 8 stops at log2 norm2 18.
	r := tab.Rows[3*31]
	if r.Precision != 4 || r.Log2Norm2 != 0 || r.Solution == nil || r.Solution.LWEDimension != 801 {
		t.Errorf("row 4/0: %+v %+v", r, r.Solution)
	}
	if tab.Rows[7*31+18].Solution == nil || tab.Rows[7*31+19].Solution != nil {
		t.Error("precision 8 should end at log2 norm2 18")
	}
	if none == 0 {
		t.Error("no row without solution")
	}

	code, out, _ = runCLI(t, "params", "--table", "--max-precision", "2", "--max-log2-norm2", "30", "--p-error", "1e-3")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2+2*31 || !strings.Contains(lines[0], "p_error 0.001") || !strings.Contains(lines[1], "complexity") {
		t.Errorf("%d lines:\n%s", len(lines), out)
	}
}
