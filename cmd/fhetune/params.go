package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"text/tabwriter"

	"github.com/fhetune/fhetune/fhe"
	"github.com/fhetune/fhetune/fhe/circuit"
	"github.com/fhetune/fhetune/tuner"
	"github.com/spf13/cobra"
)

// paramsResult is what `fhetune params --json` prints for one query (the field names are
// a contract, see DESIGN.md). The calibration work appends predicted_ms and calibration
// after variance; the table rows reuse this struct and follow.
type paramsResult struct {
	Precision    int     `json:"precision"`
	Log2Norm2    float64 `json:"log2_norm2"`
	PErrorTarget float64 `json:"p_error_target"`
	PError       float64 `json:"p_error"`
	fhe.ParamsLiteral
	Complexity float64 `json:"complexity"`
	Variance   float64 `json:"variance"`
	// PredictedMS is one keyswitch + bootstrap on one core by the calibration profile
	// Calibration names (its id, or "default").
	PredictedMS float64 `json:"predicted_ms"`
	Calibration string  `json:"calibration"`
	// Cost is what chose the set (--cost: "complexity" or "ms"), and TLUMS the profile's
	// milliseconds of the whole TLU on one core, the dot product of sum-size terms
	// included: what --cost ms minimizes.
	Cost  string  `json:"cost"`
	TLUMS float64 `json:"tlu_ms"`
	// AccumulatorBits is the accumulator that the TLU's input is rounded from
	// (Precision: no rounding), RoundingMethod how, Bootstraps the bootstraps of the
	// whole rounded TLU (the TLU and, with exact rounding, one extraction per removed
	// bit), and Parts their breakdown. Complexity and PredictedMS are the whole rounded
	// TLU's.
	AccumulatorBits int          `json:"accumulator_bits"`
	RoundingMethod  string       `json:"rounding_method"`
	Bootstraps      int          `json:"bootstraps"`
	Parts           []paramsPart `json:"parts"`
}

// paramsPart is one part of a rounded TLU: its bit extractions or the TLU itself.
type paramsPart struct {
	// Part is "extraction" or "tlu"; Count the bootstraps of the part.
	Part  string `json:"part"`
	Count int    `json:"count"`
	// Complexity and PredictedMS are the part's (all its bootstraps and keyswitches;
	// the tlu part includes the dot product), PError its worst decoding's.
	Complexity  float64 `json:"complexity"`
	PredictedMS float64 `json:"predicted_ms"`
	PError      float64 `json:"p_error"`
}

func newParamsResult(s fhe.Solution, cal calibrationRef) paramsResult {
	return paramsResult{
		Cost:          string(s.Query.Cost),
		TLUMS:         s.MS,
		Precision:     s.Query.Precision,
		Log2Norm2:     s.Query.Log2Norm2,
		PErrorTarget:  s.Query.PError,
		PError:        s.PError,
		ParamsLiteral: s.Params.Literal(),
		Complexity:    s.Complexity,
		Variance:      s.Variance,
		PredictedMS:   cal.profile.PredictMS(s.Params),
		Calibration:   cal.source,

		AccumulatorBits: s.Query.Precision,
		RoundingMethod:  "exact",
		Bootstraps:      1,
		Parts: []paramsPart{{Part: "tlu", Count: 1, Complexity: s.Complexity, PredictedMS: cal.profile.PredictMS(s.Params),
			PError: s.PError}},
	}
}

// paramsTable is what `fhetune params --table --json` prints.
type paramsTable struct {
	Security     int              `json:"security"`
	PErrorTarget float64          `json:"p_error_target"`
	SumSize      int              `json:"sum_size"`
	Cost         string           `json:"cost"`
	Rows         []paramsTableRow `json:"rows"`
}

// paramsTableRow is one precision × log2 norm2 cell; Solution is null when no set of the
// search space meets it.
type paramsTableRow struct {
	Precision int           `json:"precision"`
	Log2Norm2 float64       `json:"log2_norm2"`
	Solution  *paramsResult `json:"solution"`
}

type paramsFlags struct {
	precision    int
	log2Norm2    float64
	pError       float64
	security     int
	sumSize      int
	asJSON       bool
	table        bool
	maxPrecision int
	maxLog2Norm2 int
	alternatives int
	accBits      int
	method       string
	cost         string
}

func newParamsCmd(a *app) *cobra.Command {
	var f paramsFlags
	c := &cobra.Command{
		Use:   "params",
		Short: "Choose the cheapest secure TFHE parameter set for a table lookup",
		Long: `params picks the parameter set of least complexity (Concrete's CPU cost model) whose
noise keeps a TLU of the given input precision correct with probability 1 − p_error, after
a dot product whose integer weights have 2-norm 2^L. The search is exact over k 1..6,
log2 N 8..17, n 512..2047 and every decomposition with level·log2base ≤ 64.
With --cost ms it picks the set of least milliseconds on this machine instead (the newest
calibration profile's: dot product, keyswitch and bootstrap, n ≤ k·N as tfhe-go needs),
under the same noise and security constraints; "tlu_ms" is what it minimizes.
The output explains the choice: the variance terms at decoding against the bound that
precision and p_error allow, the cost terms, and the cheapest set of other (k, N).
In --json output "variance" is the variance at decoding in modular units (q² = 2^128)
and "complexity" counts the operations of one TLU (dot product, keyswitch, bootstrap).

With --table it prints one row per precision 1..--max-precision and log2 norm2
0..--max-log2-norm2 ("no solution" where none exists), like Concrete's v0 tables.`,
		Example: `  fhetune params --precision 4 --log2-norm2 0 --p-error 6.3e-5
  fhetune params --precision 6 --log2-norm2 3.5 --p-error 1e-3 --json
  fhetune params --table --max-precision 8 --p-error 9.1e-13   # about 2^-40, Concrete ML's default
  fhetune params --precision 1 --log2-norm2 10 --p-error 6.334e-5 --cost ms`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := f.check(c); err != nil {
				return err
			}
			cal, err := a.latestCalibration(c.Context())
			if err != nil {
				return fmt.Errorf("params: %w", err)
			}
			o, err := fhe.NewOptimizer(fhe.WithTimer(tuner.ProfileTiming{Profile: cal.profile, Name: cal.source}),
				fhe.WithCost(fhe.CostKind(f.cost)))
			if err != nil {
				return fmt.Errorf("params: %w", err)
			}
			if f.table {
				return runParamsTable(a.stdout, o, f, cal)
			}
			return runParamsQuery(a.stdout, o, f, cal)
		},
	}
	fl := c.Flags()
	fl.IntVar(&f.precision, "precision", 0, "TLU input precision in bits, 1..16 (required without --table)")
	fl.Float64Var(&f.log2Norm2, "log2-norm2", 0, "log2 of the 2-norm of the dot product's integer weights, 0..64 (required without --table)")
	fl.Float64Var(&f.pError, "p-error", fhe.ReferencePError, "per-TLU error probability in (0, 1); required without --table, whose default is Concrete's reference 6.334e-5")
	fl.IntVar(&f.security, "security", fhe.DefaultSecurity, "security level in bits")
	fl.IntVar(&f.sumSize, "sum-size", fhe.DefaultSumSize, "number of terms of the dot product feeding the TLU (adds sum-size·kN to the cost)")
	fl.BoolVar(&f.asJSON, "json", false, "print one JSON document")
	fl.BoolVar(&f.table, "table", false, "print the table of sets for precision × log2 norm2")
	fl.IntVar(&f.maxPrecision, "max-precision", 8, "with --table: largest precision, 1..16")
	fl.IntVar(&f.maxLog2Norm2, "max-log2-norm2", 30, "with --table: largest log2 norm2, 0..64")
	fl.IntVar(&f.alternatives, "alternatives", 5, "without --json: how many runner-up (k, N) to list, 0 for none")
	fl.IntVar(&f.accBits, "accumulator-bits", 0, "accumulator bit-width L the TLU input is rounded from, precision..32 (default: --precision, no rounding)")
	fl.StringVar(&f.method, "rounding-method", "exact", "with --accumulator-bits: exact (one bit-extraction bootstrap per removed bit) or approximate")
	fl.StringVar(&f.cost, "cost", string(fhe.CostComplexity), "what chooses the set: complexity (Concrete's cost model, Concrete's choice) or ms (the calibration profile's milliseconds)")
	return c
}

// check validates the flags; every refusal is bad input (exit 2).
func (f paramsFlags) check(c *cobra.Command) error {
	changed := c.Flags().Changed
	if f.table {
		for _, name := range []string{"precision", "log2-norm2", "accumulator-bits", "rounding-method"} {
			if changed(name) {
				return badInput("params: --%s does not go with --table (use --max-precision, --max-log2-norm2)", name)
			}
		}
		if f.maxPrecision < fhe.MinPrecision || f.maxPrecision > fhe.MaxPrecision {
			return badInput("params: --max-precision %d outside %d..%d", f.maxPrecision, fhe.MinPrecision, fhe.MaxPrecision)
		}
		if f.maxLog2Norm2 < 0 || f.maxLog2Norm2 > 64 {
			return badInput("params: --max-log2-norm2 %d outside 0..64", f.maxLog2Norm2)
		}
	} else {
		for _, name := range []string{"max-precision", "max-log2-norm2"} {
			if changed(name) {
				return badInput("params: --%s needs --table", name)
			}
		}
		if changed("accumulator-bits") && (f.accBits < f.precision || f.accBits > maxAccumulatorBits) {
			return badInput("params: --accumulator-bits %d outside --precision..%d (%d..%d)", f.accBits, maxAccumulatorBits, f.precision, maxAccumulatorBits)
		}
		if _, err := circuit.ParseRoundingMethod(f.method); err != nil {
			return badInput("params: --rounding-method %q: want exact or approximate", f.method)
		}
		for _, name := range []string{"precision", "log2-norm2", "p-error"} {
			if !changed(name) {
				return badInput("params: --%s is required (or use --table)", name)
			}
		}
		if f.precision < fhe.MinPrecision || f.precision > fhe.MaxPrecision {
			return badInput("params: --precision %d outside %d..%d bits", f.precision, fhe.MinPrecision, fhe.MaxPrecision)
		}
		if !(f.log2Norm2 >= 0 && f.log2Norm2 <= 64) {
			return badInput("params: --log2-norm2 %g outside 0..64", f.log2Norm2)
		}
	}
	if !(f.pError > 0 && f.pError < 1) {
		return badInput("params: --p-error %g outside (0, 1)", f.pError)
	}
	if err := fhe.CheckSecurity(f.security); err != nil {
		return badInput("params: --security %d: unsupported (supported: %v)", f.security, fhe.SecurityLevels())
	}
	if f.sumSize < 1 || f.sumSize > 1<<30 {
		return badInput("params: --sum-size %d outside 1..%d", f.sumSize, 1<<30)
	}
	if f.alternatives < 0 {
		return badInput("params: --alternatives %d below 0", f.alternatives)
	}
	if _, err := fhe.ParseCostKind(f.cost); err != nil {
		return badInput("params: --cost %q: want ms or complexity", f.cost)
	}
	return nil
}

// optimizeErr turns an optimizer error into a CLI error: bad values exit 2, no solution 1.
func optimizeErr(err error) error {
	if errors.Is(err, fhe.ErrInvalidQuery) || errors.Is(err, fhe.ErrUnsupportedSecurity) {
		return badInput("params: %w", err)
	}
	return fmt.Errorf("params: %w", err)
}

func runParamsQuery(w io.Writer, o *fhe.Optimizer, f paramsFlags, cal calibrationRef) error {
	if f.accBits > f.precision {
		return runRoundedQuery(w, o, f, cal)
	}
	q := fhe.Query{Precision: f.precision, Log2Norm2: f.log2Norm2, PError: f.pError,
		Security: f.security, SumSize: f.sumSize}
	s, err := o.Optimize(q)
	if err != nil {
		return optimizeErr(err)
	}
	if f.asJSON {
		return writeJSON(w, newParamsResult(s, cal))
	}
	var alts []fhe.Solution
	if f.alternatives > 0 {
		if alts, err = o.Alternatives(q); err != nil {
			return optimizeErr(err)
		}
	}
	return writeExplanation(w, s, alts, f.alternatives, cal)
}

// log2 formats a positive value as its base-2 logarithm.
func log2(v float64) string { return fmt.Sprintf("2^%.2f", math.Log2(v)) }

func writeExplanation(w io.Writer, s fhe.Solution, alts []fhe.Solution, maxAlts int, cal calibrationRef) error {
	q, p, e := s.Query, s.Params, s.Explain()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "TLU\tprecision %d bits, log2 norm2 %g, p_error ≤ %.3g, %d-bit security, sum size %d\n",
		q.Precision, q.Log2Norm2, q.PError, q.Security, q.SumSize)
	fmt.Fprintf(tw, "set\t%v\n", p)
	fmt.Fprintf(tw, "\tglwe_dimension %d, log2_polynomial_size %d, lwe_dimension %d, br %d×2^%d, ks %d×2^%d\n",
		p.GLWERank(), p.LogPolyDegree(), p.LWEDimension(), p.BRLevel(), p.BRLogBase(), p.KSLevel(), p.KSLogBase())
	fmt.Fprintf(tw, "p_error\t%.4g (target %.4g)\n", s.PError, q.PError)
	fmt.Fprintf(tw, "complexity\t%.6g per TLU\n", s.Complexity)
	fmt.Fprintf(tw, "predicted\t%.3g ms per keyswitch + bootstrap on one core (calibration %s)\n", cal.profile.PredictMS(p), cal.source)
	fmt.Fprintf(tw, "chosen by\t%s (--cost); the whole TLU, dot product included, %.3g ms\n\n", q.Cost, s.MS)

	fmt.Fprintf(tw, "variance at decoding\tformula\tmodular\tshare\t\n")
	for i, t := range e.Variance {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%.3g%%\t\n", t.Name, t.Formula, log2(t.Value), 100*t.Share)
		if i == 0 {
			fmt.Fprintf(tw, "    of which FFT error\t\t%s\t%.3g%%\t\n", log2(t.Value*e.FFTShare), 100*t.Share*e.FFTShare)
		}
	}
	fmt.Fprintf(tw, "  total\t\t%s\t\t\n", log2(s.Variance))
	fmt.Fprintf(tw, "  bound\t(2^%d/κ)², κ = %.3f\t%s\t%.4g× total\t\n\n", 64-q.Precision-2, e.Kappa, log2(s.VarianceBound), e.Headroom)

	fmt.Fprintf(tw, "complexity of one TLU\tformula\tcount\tshare\t\n")
	for _, t := range e.Cost {
		fmt.Fprintf(tw, "  %s\t%s\t%.4g\t%.3g%%\t\n", t.Name, t.Formula, t.Value, 100*t.Share)
	}
	fmt.Fprintf(tw, "  total\t\t%.4g\t\t\n", s.Complexity)
	if len(alts) > 1 && maxAlts > 0 {
		cost := func(s fhe.Solution) float64 { return s.Complexity }
		if q.Cost == fhe.CostMS {
			cost = func(s fhe.Solution) float64 { return s.MS }
		}
		fmt.Fprintf(tw, "\ncheapest set per (k, N)\t\t%s\tvs chosen\t\n", q.Cost)
		for i, alt := range alts {
			if i > maxAlts {
				fmt.Fprintf(tw, "  … %d more\t\t\t\t\n", len(alts)-i)
				break
			}
			rel := "chosen"
			if i > 0 {
				rel = fmt.Sprintf("+%.1f%%", 100*(cost(alt)/cost(s)-1))
			}
			fmt.Fprintf(tw, "  %v\t\t%.4g\t%s\t\n", alt.Params, cost(alt), rel)
		}
	}
	return tw.Flush()
}

func runParamsTable(w io.Writer, o *fhe.Optimizer, f paramsFlags, cal calibrationRef) error {
	out := paramsTable{Security: f.security, PErrorTarget: f.pError, SumSize: f.sumSize, Cost: string(o.Cost())}
	for prec := 1; prec <= f.maxPrecision; prec++ {
		for l := 0; l <= f.maxLog2Norm2; l++ {
			row := paramsTableRow{Precision: prec, Log2Norm2: float64(l)}
			s, err := o.Optimize(fhe.Query{Precision: prec, Log2Norm2: float64(l), PError: f.pError,
				Security: f.security, SumSize: f.sumSize})
			switch {
			case errors.Is(err, fhe.ErrNoSolution):
			case err != nil:
				return optimizeErr(err)
			default:
				r := newParamsResult(s, cal)
				row.Solution = &r
			}
			out.Rows = append(out.Rows, row)
		}
	}
	if f.asJSON {
		return writeJSON(w, out)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "security %d bits, p_error %.4g, sum size %d, sets by %s (ms: the whole TLU on one core, calibration %s)\n",
		out.Security, out.PErrorTarget, out.SumSize, out.Cost, cal.source)
	fmt.Fprintf(tw, "precision\tlog2_norm2\tk\tlog2_N\tn\tbr_l\tbr_b\tks_l\tks_b\tcomplexity\tms\tp_error\t\n")
	for _, r := range out.Rows {
		if r.Solution == nil {
			fmt.Fprintf(tw, "%d\t%g\t-\t-\t-\t-\t-\t-\t-\t-\t-\tno solution\t\n", r.Precision, r.Log2Norm2)
			continue
		}
		s := r.Solution
		fmt.Fprintf(tw, "%d\t%g\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%.0f\t%.1f\t%.2g\t\n", r.Precision, r.Log2Norm2,
			s.GLWERank, s.LogPolyDegree, s.LWEDimension, s.BRLevel, s.BRLogBase, s.KSLevel, s.KSLogBase,
			s.Complexity, s.TLUMS, s.PError)
	}
	return tw.Flush()
}
