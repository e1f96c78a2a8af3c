package calibration

import (
	"fmt"
	"math"
	"slices"

	"github.com/fhetune/fhetune/fhe"
	"gonum.org/v1/gonum/mat"
)

// Part says which measured part of a bootstrap a term explains.
type Part string

// The two parts of one KS+PBS call, timed separately by the runner.
const (
	// PartKS is the keyswitch from dimension k·N down to n.
	PartKS Part = "ks"
	// PartPBS is the blind rotation with sample extraction.
	PartPBS Part = "pbs"
)

// Term is one work count of the latency model: a function of the parameter set whose
// fitted coefficient is its cost in milliseconds per unit.
type Term struct {
	// Name identifies the term in profiles.
	Name string
	// Part is the part of the call whose time the term explains.
	Part Part
	// Doc writes out the count.
	Doc string
	// Count returns the work of one call.
	Count func(p fhe.Params) float64
}

// Terms lists every term a model may use, by name. tfhe-go's keyswitch-first bootstrap
// keeps the first n coefficients of the big key as the small key, so its keyswitch only
// decomposes the k·N − n others.
var Terms = []Term{
	{Name: "ks_mac", Part: PartKS, Doc: "(k·N − n)·l_ks·(n+1): keyswitch multiply-adds", Count: func(p fhe.Params) float64 {
		return float64(p.GLWEDimension()-p.LWEDimension()) * float64(p.KSLevel()) * float64(p.LWEDimension()+1)
	}},
	{Name: "ks_dec", Part: PartKS, Doc: "(k·N − n)·l_ks: keyswitch digit decompositions", Count: func(p fhe.Params) float64 {
		return float64(p.GLWEDimension()-p.LWEDimension()) * float64(p.KSLevel())
	}},
	{Name: "ks_call", Part: PartKS, Doc: "1: per keyswitch call", Count: func(fhe.Params) float64 { return 1 }},
	{Name: "br_fft", Part: PartPBS, Doc: "n·(k+1)·(l_br+1)·N·log2 N: forward FFTs of the decomposed accumulator and inverse FFTs, per CMux", Count: func(p fhe.Params) float64 {
		return brCMux(p) * float64(p.BRLevel()+1) * float64(p.PolyDegree()*p.LogPolyDegree())
	}},
	{Name: "br_fwd", Part: PartPBS, Doc: "n·(k+1)·l_br·N·log2 N: forward FFTs of the decomposed accumulator", Count: func(p fhe.Params) float64 {
		return brCMux(p) * float64(p.BRLevel()) * float64(p.PolyDegree()*p.LogPolyDegree())
	}},
	{Name: "br_inv", Part: PartPBS, Doc: "n·(k+1)·N·log2 N: inverse FFTs of the CMux outputs", Count: func(p fhe.Params) float64 {
		return brCMux(p) * float64(p.PolyDegree()*p.LogPolyDegree())
	}},
	{Name: "br_mac", Part: PartPBS, Doc: "n·(k+1)²·l_br·N: Fourier-domain multiply-adds with the bootstrap key", Count: func(p fhe.Params) float64 {
		k1 := float64(p.GLWERank() + 1)
		return float64(p.LWEDimension()) * k1 * k1 * float64(p.BRLevel()) * float64(p.PolyDegree())
	}},
	{Name: "br_lin", Part: PartPBS, Doc: "n·(k+1)·(l_br+1)·N: decompositions, monomial products and additions", Count: func(p fhe.Params) float64 {
		return brCMux(p) * float64(p.BRLevel()+1) * float64(p.PolyDegree())
	}},
	{Name: "br_poly", Part: PartPBS, Doc: "n·(k+1)·(l_br+1): per-polynomial overhead of the FFT calls", Count: func(p fhe.Params) float64 {
		return brCMux(p) * float64(p.BRLevel()+1)
	}},
	{Name: "br_call", Part: PartPBS, Doc: "1: per bootstrap call", Count: func(fhe.Params) float64 { return 1 }},
}

// brCMux is n·(k+1): the number of CMuxes times the GLWE components each handles.
func brCMux(p fhe.Params) float64 {
	return float64(p.LWEDimension()) * float64(p.GLWERank()+1)
}

// DefaultTerms are the terms fitted unless a caller chooses others, chosen from
// measurements of 30 random sets (k 1..4, N 2^8..2^13, n 500..1000, both decompositions
// varied) on an AMD EPYC core: the keyswitch is its multiply-adds plus a per-call
// constant; the blind rotation is forward FFTs, inverse FFTs and key multiply-adds.
// With these five terms the leave-one-out error was 1.7% median and 8.5% worst; adding
// per-polynomial, per-call or linear bootstrap terms fitted them to zero, and a single
// FFT term (forward and inverse together) doubled the error.
var DefaultTerms = []string{"ks_mac", "ks_call", "br_fwd", "br_inv", "br_mac"}

// term finds a term by name.
func term(name string) (Term, error) {
	for _, t := range Terms {
		if t.Name == name {
			return t, nil
		}
	}
	return Term{}, fmt.Errorf("%w: unknown term %q", ErrFit, name)
}

// minSets returns the fewest measured sets that fit the terms with one left out: one
// more than the terms of the larger part.
func minSets(terms []string) (int, error) {
	per := map[Part]int{}
	most := 0
	for _, name := range terms {
		t, err := term(name)
		if err != nil {
			return 0, err
		}
		per[t.Part]++
		most = max(most, per[t.Part])
	}
	if most == 0 {
		return 0, fmt.Errorf("%w: no terms", ErrFit)
	}
	return most + 1, nil
}

// Model predicts the time of one KS+PBS on one core as a sum of work terms times fitted
// non-negative costs.
type Model struct {
	// Terms names the terms, one of [Terms] each.
	Terms []string `json:"terms"`
	// Coef is the cost of one unit of each term, in milliseconds.
	Coef []float64 `json:"coef"`
}

// Validate checks that every term is known, that there is one finite non-negative
// coefficient per term, and that some coefficient is positive.
func (m Model) Validate() error {
	if len(m.Terms) == 0 || len(m.Terms) != len(m.Coef) {
		return fmt.Errorf("%w: model has %d terms and %d coefficients", ErrBadProfile, len(m.Terms), len(m.Coef))
	}
	pos := false
	for i, name := range m.Terms {
		if _, err := term(name); err != nil {
			return fmt.Errorf("%w: %w", ErrBadProfile, err)
		}
		c := m.Coef[i]
		if c < 0 || math.IsNaN(c) || math.IsInf(c, 0) {
			return fmt.Errorf("%w: coefficient of %s is %g", ErrBadProfile, name, c)
		}
		pos = pos || c > 0
	}
	if !pos {
		return fmt.Errorf("%w: every coefficient is zero", ErrBadProfile)
	}
	return nil
}

// Predict returns the predicted milliseconds of one KS+PBS of p on one core. The model
// must be valid; an unknown term contributes nothing.
func (m Model) Predict(p fhe.Params) float64 {
	return m.predictPart(p, "")
}

// predictPart sums the terms of one part ("" for all).
func (m Model) predictPart(p fhe.Params, part Part) float64 {
	sum := 0.0
	for i, name := range m.Terms {
		t, err := term(name)
		if err != nil || (part != "" && t.Part != part) {
			continue
		}
		sum += m.Coef[i] * t.Count(p)
	}
	return sum
}

// keySwitchBetween sums the keyswitch terms for a keyswitch that decomposes all kN
// input coefficients into level digits onto an n-dimensional key.
func (m Model) keySwitchBetween(kN, n, level int) float64 {
	sum := 0.0
	for i, name := range m.Terms {
		switch name {
		case "ks_mac":
			sum += m.Coef[i] * float64(kN) * float64(level) * float64(n+1)
		case "ks_dec":
			sum += m.Coef[i] * float64(kN) * float64(level)
		case "ks_call":
			sum += m.Coef[i]
		}
	}
	return sum
}

// Point is one measured set as the fit sees it.
type Point struct {
	Params fhe.Params
	// KSMS and PBSMS are the measured parts; MS is the whole call.
	KSMS, PBSMS, MS float64
}

// Fit fits the named terms to the points by non-negative least squares on relative
// errors: each part's terms are fitted to that part's times, rows weighted by 1/time,
// so a 2 ms set counts as much as a 300 ms one. It needs at least as many points as the
// largest part has terms.
func Fit(terms []string, points []Point) (Model, error) {
	if len(terms) == 0 {
		return Model{}, fmt.Errorf("%w: no terms", ErrFit)
	}
	byPart := map[Part][]Term{}
	for _, name := range terms {
		t, err := term(name)
		if err != nil {
			return Model{}, err
		}
		byPart[t.Part] = append(byPart[t.Part], t)
	}
	m := Model{}
	for _, part := range []Part{PartKS, PartPBS} {
		ts := byPart[part]
		if len(ts) == 0 {
			continue
		}
		if len(points) < len(ts) {
			return Model{}, fmt.Errorf("%w: %d measurements for %d %s terms", ErrFit, len(points), len(ts), part)
		}
		a := mat.NewDense(len(points), len(ts), nil)
		b := make([]float64, len(points))
		for i, pt := range points {
			y := pt.KSMS
			if part == PartPBS {
				y = pt.PBSMS
			}
			if !(y > 0) || math.IsInf(y, 0) {
				return Model{}, fmt.Errorf("%w: %v: measured %s time %g ms", ErrFit, pt.Params, part, y)
			}
			for j, t := range ts {
				a.Set(i, j, t.Count(pt.Params)/y)
			}
			b[i] = 1
		}
		coef, err := nnls(a, b)
		if err != nil {
			return Model{}, fmt.Errorf("fit %s terms: %w", part, err)
		}
		for j, t := range ts {
			m.Terms = append(m.Terms, t.Name)
			m.Coef = append(m.Coef, coef[j])
		}
	}
	if err := m.Validate(); err != nil {
		return Model{}, fmt.Errorf("%w: %w", ErrFit, err)
	}
	return m, nil
}

// LOO is the leave-one-out error of a fit: each point predicted by the model fitted to
// all the others. [Profile.HeldOutError] uses it for the error on sets never fitted.
type LOO struct {
	// Errors are the relative errors (predicted − measured) / measured of the whole
	// KS+PBS time, in the order of the points.
	Errors []float64 `json:"errors"`
	// Median and Max are the median and largest absolute relative errors.
	Median float64 `json:"median_abs"`
	Max    float64 `json:"max_abs"`
}

// LeaveOneOut refits the terms once per point without it and measures the relative
// error of its prediction.
func LeaveOneOut(terms []string, points []Point) (LOO, error) {
	if len(points) < 2 {
		return LOO{}, fmt.Errorf("%w: leave-one-out needs at least 2 measurements, got %d", ErrFit, len(points))
	}
	errs := make([]float64, len(points))
	for i := range points {
		rest := slices.Concat(points[:i], points[i+1:])
		m, err := Fit(terms, rest)
		if err != nil {
			return LOO{}, fmt.Errorf("leave out %v: %w", points[i].Params, err)
		}
		errs[i] = (m.Predict(points[i].Params) - points[i].MS) / points[i].MS
	}
	return summarize(errs), nil
}

// summarize returns the relative errors with the median and the largest of their
// absolute values.
func summarize(errs []float64) LOO {
	abs := make([]float64, len(errs))
	for i, e := range errs {
		abs[i] = math.Abs(e)
	}
	return LOO{Errors: errs, Median: Median(abs), Max: slices.Max(abs)}
}
