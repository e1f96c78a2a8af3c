package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"

	"github.com/fhetune/fhetune/fhe"
	"github.com/fhetune/fhetune/fhe/circuit"
)

// maxAccumulatorBits bounds --accumulator-bits: wider accumulators leave no room for
// the shifts of exact rounding's extractions in 64 bits.
const maxAccumulatorBits = 32

// roundedGraph returns one rounded TLU as the joint optimizer takes it, on one
// parameter set: an accumulator of L bits fed by a dot product of 2-norm 2^log2Norm2 on
// bootstrapped ciphertexts, rounded to P bits, then the P-bit TLU. Exact rounding adds
// one decoding per removed bit i (precision 0 after a shift by 2^(L−i), carrying the
// noise of the i extractions before it) and the TLU carries all t of them, as
// circuit.Circuit.Graph builds them after Concrete's add_expanded_round.
func roundedGraph(f paramsFlags, m circuit.RoundingMethod) fhe.Graph {
	n2 := math.Exp2(2 * f.log2Norm2)
	t := f.accBits - f.precision
	ext := 0
	if m == circuit.Exact {
		ext = t
	}
	g := fhe.Graph{Partitions: 1, PBS: []int{1 + ext}, KS: map[fhe.Switch]int{{}: 1 + ext},
		Levelled: []float64{float64(f.sumSize)}, PError: f.pError, Security: f.security}
	for i := range ext {
		w := math.Exp2(float64(2 * (f.accBits - i)))
		g.Decodings = append(g.Decodings, fhe.Decoding{Name: fmt.Sprintf("bit %d", i), Precision: 0, Count: 1,
			BR: []float64{w * (n2 + float64(i))}, Bootstrap: true})
	}
	g.Decodings = append(g.Decodings, fhe.Decoding{Name: "tlu", Precision: f.precision, Count: 1,
		BR: []float64{n2 + float64(ext)}, Bootstrap: true})
	return g
}

// roundedResult solves a rounded TLU and describes it as params prints it.
func roundedResult(o *fhe.Optimizer, f paramsFlags, cal calibrationRef) (paramsResult, error) {
	m, _ := circuit.ParseRoundingMethod(f.method)
	g := roundedGraph(f, m)
	sol, err := o.Graph(g)
	if err != nil {
		return paramsResult{}, err
	}
	p := sol.Partitions[0]
	tluDec := sol.Decodings[len(sol.Decodings)-1]
	ext := len(sol.Decodings) - 1
	atom := p.PBSComplexity() + p.KeySwitchComplexity()
	ms := cal.profile.PredictMS(p)
	r := paramsResult{Precision: f.precision, Log2Norm2: f.log2Norm2, PErrorTarget: f.pError, PError: tluDec.PError,
		ParamsLiteral: p.Literal(), Complexity: sol.Complexity, Variance: tluDec.Variance,
		PredictedMS: float64(1+ext) * ms, Calibration: cal.source, Cost: string(sol.Cost), TLUMS: sol.MS,
		AccumulatorBits: f.accBits, RoundingMethod: m.String(), Bootstraps: 1 + ext}
	if ext > 0 {
		worst := 0.0
		for _, d := range sol.Decodings[:ext] {
			worst = max(worst, d.PError)
			r.PError = max(r.PError, d.PError)
		}
		r.Parts = append(r.Parts, paramsPart{Part: "extraction", Count: ext, Complexity: float64(ext) * atom,
			PredictedMS: float64(ext) * ms, PError: worst})
	}
	r.Parts = append(r.Parts, paramsPart{Part: "tlu", Count: 1, Complexity: sol.Complexity - float64(ext)*atom,
		PredictedMS: ms, PError: tluDec.PError})
	return r, nil
}

func runRoundedQuery(w io.Writer, o *fhe.Optimizer, f paramsFlags, cal calibrationRef) error {
	r, err := roundedResult(o, f, cal)
	if err != nil {
		return optimizeErr(err)
	}
	if f.asJSON {
		return writeJSON(w, r)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "rounded TLU\t%d-bit accumulator rounded to %d bits (%s), log2 norm2 %g, p_error ≤ %.3g, %d-bit security, sum size %d\n",
		f.accBits, f.precision, r.RoundingMethod, f.log2Norm2, f.pError, f.security, f.sumSize)
	fmt.Fprintf(tw, "set\t%v\n", r.ParamsLiteral)
	fmt.Fprintf(tw, "bootstraps\t%d\n", r.Bootstraps)
	fmt.Fprintf(tw, "complexity\t%.6g\n", r.Complexity)
	fmt.Fprintf(tw, "predicted\t%.3g ms on one core (calibration %s)\n", r.PredictedMS, r.Calibration)
	fmt.Fprintf(tw, "chosen by\t%s (--cost); the whole rounded TLU, dot product included, %.3g ms\n\n", r.Cost, r.TLUMS)
	if err := tw.Flush(); err != nil {
		return err
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "part\tbootstraps\tcomplexity\tms\tworst p_error\t\n")
	for _, p := range r.Parts {
		fmt.Fprintf(tw, "%s\t%d\t%.4g\t%.3g\t%.3g\t\n", p.Part, p.Count, p.Complexity, p.PredictedMS, p.PError)
	}
	if r.RoundingMethod == "approximate" {
		fmt.Fprintf(tw, "%s\t\t\t\t\t\n", strings.TrimSpace("(approximate: the TLU input is off by one step near rounding boundaries)"))
	}
	return tw.Flush()
}
