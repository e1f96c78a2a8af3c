package dataset

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// constantStd is the relative spread below which a column counts as constant.
const constantStd = 1e-12

// Standardizer maps each feature to zero mean and unit variance:
// x'_j = (x_j − Mean_j) / Std_j. It is fitted on the training set only and kept with
// the model; it serializes to JSON as {"mean": [...], "std": [...]}.
type Standardizer struct {
	// Mean is the per-column mean of the fitting data.
	Mean []float64 `json:"mean"`
	// Std is the per-column population standard deviation of the fitting data, or 1
	// for a constant column (so constant columns become 0, never NaN).
	Std []float64 `json:"std"`
}

// FitStandardizer computes per-column means and population standard deviations of x
// (two passes, for accuracy). A column whose deviation is at most 1e-12·max(1, |mean|)
// is constant and gets Std 1.
func FitStandardizer(x *mat.Dense) Standardizer {
	r, c := x.Dims()
	s := Standardizer{Mean: make([]float64, c), Std: make([]float64, c)}
	for i := range r {
		for j, v := range x.RawRowView(i) {
			s.Mean[j] += v
		}
	}
	for j := range s.Mean {
		s.Mean[j] /= float64(r)
	}
	for i := range r {
		for j, v := range x.RawRowView(i) {
			d := v - s.Mean[j]
			s.Std[j] += d * d
		}
	}
	for j := range s.Std {
		sd := math.Sqrt(s.Std[j] / float64(r))
		if sd <= constantStd*max(1, math.Abs(s.Mean[j])) {
			sd = 1
		}
		s.Std[j] = sd
	}
	return s
}

// Apply returns a new matrix holding x standardized; x is unchanged.
// It panics if x's column count differs from len(s.Mean) (a programmer error).
func (s Standardizer) Apply(x *mat.Dense) *mat.Dense {
	r, c := x.Dims()
	dst := mat.NewDense(r, c, nil)
	s.ApplyTo(dst, x)
	return dst
}

// ApplyTo writes x standardized into dst, which must have x's dimensions; dst may be x
// itself (in place). It panics on mismatched dimensions (a programmer error).
func (s Standardizer) ApplyTo(dst, x *mat.Dense) {
	r, c := x.Dims()
	if c != len(s.Mean) || c != len(s.Std) {
		panic(fmt.Sprintf("dataset: standardizer fitted on %d columns applied to %d", len(s.Mean), c))
	}
	if dr, dc := dst.Dims(); dr != r || dc != c {
		panic(fmt.Sprintf("dataset: standardize into %dx%d from %dx%d", dr, dc, r, c))
	}
	inv := make([]float64, c)
	for j, sd := range s.Std {
		inv[j] = 1 / sd
	}
	for i := range r {
		src, out := x.RawRowView(i), dst.RawRowView(i)
		for j, v := range src {
			out[j] = (v - s.Mean[j]) * inv[j]
		}
	}
}

// Validate checks a Standardizer read back from a file: equal lengths, finite means
// and finite positive deviations.
func (s Standardizer) Validate() error {
	if len(s.Mean) == 0 || len(s.Mean) != len(s.Std) {
		return fmt.Errorf("dataset: standardizer has %d means and %d deviations", len(s.Mean), len(s.Std))
	}
	for j := range s.Mean {
		if math.IsNaN(s.Mean[j]) || math.IsInf(s.Mean[j], 0) {
			return fmt.Errorf("dataset: standardizer mean %d is %v", j, s.Mean[j])
		}
		if !(s.Std[j] > 0) || math.IsInf(s.Std[j], 0) {
			return fmt.Errorf("dataset: standardizer deviation %d is %v, want finite and positive", j, s.Std[j])
		}
	}
	return nil
}
