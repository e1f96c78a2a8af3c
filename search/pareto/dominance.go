package pareto

import "math"

// Dominates reports whether point a Pareto-dominates point b under dirs: a is no worse
// than b in every objective and strictly better in at least one. Equal points do not
// dominate each other. It panics if a or b does not have len(dirs) values.
func Dominates(a, b []float64, dirs []Direction) bool {
	checkLen(0, a, dirs)
	checkLen(1, b, dirs)
	better := false
	for j, d := range dirs {
		x, y := d.sign()*a[j], d.sign()*b[j]
		if x > y {
			return false
		}
		if x < y {
			better = true
		}
	}
	return better
}

// ConstrainedDominates applies Deb's constraint-domination rule to points a and b with
// total constraint violations va and vb (0 or less: feasible; NaN counts as +Inf):
// a feasible point dominates an infeasible one; of two infeasible points the one with the
// smaller violation dominates; two feasible points compare by [Dominates].
// (K. Deb, "An efficient constraint handling method for genetic algorithms", 2000.)
func ConstrainedDominates(a, b []float64, va, vb float64, dirs []Direction) bool {
	va, vb = violation(va), violation(vb)
	switch {
	case va == 0 && vb == 0:
		return Dominates(a, b, dirs)
	case va == 0:
		return true
	case vb == 0:
		return false
	}
	return va < vb
}

// violation maps a total violation to [0, +Inf]: values ≤ 0 are feasible (0) and NaN
// is the worst possible violation.
func violation(v float64) float64 {
	if math.IsNaN(v) {
		return math.Inf(1)
	}
	if v <= 0 {
		return 0
	}
	return v
}

// dominatesMin reports whether a dominates b when every objective is minimized.
func dominatesMin(a, b []float64) bool {
	better := false
	for j := range a {
		if a[j] > b[j] {
			return false
		}
		if a[j] < b[j] {
			better = true
		}
	}
	return better
}
