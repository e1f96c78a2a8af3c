package calibration

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// nnls solves min ‖A·x − b‖₂ subject to x ≥ 0 with the active-set method of Lawson and
// Hanson ("Solving Least Squares Problems", 1974, chapter 23). Columns are scaled to unit
// norm internally; a zero column gets a zero coefficient. The unconstrained
// sub-problems are solved by QR through gonum's mat.Dense.Solve.
func nnls(a *mat.Dense, b []float64) ([]float64, error) {
	rows, cols := a.Dims()
	if rows != len(b) {
		return nil, fmt.Errorf("%w: %d rows but %d targets", ErrFit, rows, len(b))
	}
	scale := make([]float64, cols)
	as := mat.DenseCopyOf(a)
	for j := range cols {
		norm := mat.Norm(as.ColView(j), 2)
		if norm == 0 || math.IsNaN(norm) || math.IsInf(norm, 0) {
			continue
		}
		scale[j] = norm
		for i := range rows {
			as.Set(i, j, as.At(i, j)/norm)
		}
	}
	bv := mat.NewVecDense(rows, append([]float64(nil), b...))
	x := make([]float64, cols)
	passive := make([]bool, cols)
	usable := func(j int) bool { return scale[j] > 0 }
	tol := 1e-10 * math.Max(1, floats.Norm(b, 2))

	gradient := func() []float64 {
		r := mat.NewVecDense(rows, nil)
		r.MulVec(as, mat.NewVecDense(cols, append([]float64(nil), x...)))
		r.SubVec(bv, r)
		w := mat.NewVecDense(cols, nil)
		w.MulVec(as.T(), r)
		return w.RawVector().Data
	}
	solvePassive := func() ([]float64, error) {
		var idx []int
		for j := range cols {
			if passive[j] {
				idx = append(idx, j)
			}
		}
		sub := mat.NewDense(rows, len(idx), nil)
		for c, j := range idx {
			for i := range rows {
				sub.Set(i, c, as.At(i, j))
			}
		}
		var sol mat.Dense
		if err := sol.Solve(sub, bv); err != nil {
			return nil, fmt.Errorf("%w: least squares: %w", ErrFit, err)
		}
		s := make([]float64, cols)
		for c, j := range idx {
			s[j] = sol.At(c, 0)
		}
		return s, nil
	}

	for iter := 0; iter < 3*cols+10; iter++ {
		w := gradient()
		best, bestW := -1, tol
		for j := range cols {
			if !passive[j] && usable(j) && w[j] > bestW {
				best, bestW = j, w[j]
			}
		}
		if best < 0 {
			break
		}
		passive[best] = true
		for inner := 0; ; inner++ {
			if inner > 3*cols+10 {
				return nil, fmt.Errorf("%w: non-negative least squares did not converge", ErrFit)
			}
			s, err := solvePassive()
			if err != nil {
				return nil, err
			}
			feasible := true
			alpha := math.Inf(1)
			for j := range cols {
				if passive[j] && s[j] <= 0 {
					feasible = false
					if d := x[j] - s[j]; d > 0 {
						alpha = math.Min(alpha, x[j]/d)
					} else {
						alpha = 0
					}
				}
			}
			if feasible {
				copy(x, s)
				break
			}
			for j := range cols {
				x[j] += alpha * (s[j] - x[j])
				if passive[j] && x[j] <= 1e-15 {
					passive[j] = false
					x[j] = 0
				}
			}
		}
	}
	for j := range cols {
		if scale[j] > 0 {
			x[j] /= scale[j]
		} else {
			x[j] = 0
		}
	}
	return x, nil
}
