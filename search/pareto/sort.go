package pareto

import (
	"cmp"
	"slices"
)

// Sort splits the points into non-dominated fronts: front 0 holds the points no other
// point dominates, front 1 those dominated only by points of front 0, and so on (the
// non-dominated sort of NSGA-II). Each front lists indices into points in increasing
// order; every index appears in exactly one front. Equal points share a front.
//
// It peels one front at a time from the points in lexicographic order, where a point can
// only be dominated by points before it, so memory stays O(n) and time is
// O(n·|front|) per front (O(n log n) in two dimensions) instead of the O(n²) memory of
// the textbook algorithm. It panics if a row does not have len(dirs) values.
func Sort(points [][]float64, dirs []Direction) [][]int {
	m := minimized(points, dirs)
	order := lexOrder(m)
	var fronts [][]int
	for len(order) > 0 {
		var front []int
		front, order = peel(m, order)
		slices.Sort(front)
		fronts = append(fronts, front)
	}
	return fronts
}

// Front returns the indices, in increasing order, of the points that no other point
// dominates (front 0 of [Sort]). It panics if a row does not have len(dirs) values.
func Front(points [][]float64, dirs []Direction) []int {
	if len(points) == 0 {
		return nil
	}
	m := minimized(points, dirs)
	front, _ := peel(m, lexOrder(m))
	slices.Sort(front)
	return front
}

// SortConstrained is [Sort] under Deb's constraint-domination (see [ConstrainedDominates]):
// the fronts of the feasible points (violation ≤ 0) come first, then the infeasible points
// in increasing order of violation, points with equal violation sharing a front.
// violations must have one entry per point; NaN counts as +Inf. It panics on a length
// mismatch.
func SortConstrained(points [][]float64, violations []float64, dirs []Direction) [][]int {
	if len(violations) != len(points) {
		panic("pareto: SortConstrained needs one violation per point")
	}
	var feasible, infeasible []int
	for i, v := range violations {
		if violation(v) == 0 {
			feasible = append(feasible, i)
		} else {
			infeasible = append(infeasible, i)
		}
	}
	sub := make([][]float64, len(feasible))
	for k, i := range feasible {
		sub[k] = points[i]
	}
	var fronts [][]int
	for _, f := range Sort(sub, dirs) {
		for k := range f {
			f[k] = feasible[f[k]]
		}
		fronts = append(fronts, f)
	}
	for i, p := range points {
		checkLen(i, p, dirs)
	}
	slices.SortStableFunc(infeasible, func(a, b int) int {
		return cmp.Compare(violation(violations[a]), violation(violations[b]))
	})
	for k := 0; k < len(infeasible); {
		e := k + 1
		for e < len(infeasible) && violation(violations[infeasible[e]]) == violation(violations[infeasible[k]]) {
			e++
		}
		f := slices.Clone(infeasible[k:e])
		slices.Sort(f)
		fronts = append(fronts, f)
		k = e
	}
	return fronts
}

// lexOrder returns the indices of m sorted lexicographically by their rows (ties by index).
func lexOrder(m [][]float64) []int {
	order := make([]int, len(m))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		if c := slices.Compare(m[a], m[b]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	return order
}

// peel splits order (lexicographic order of minimized rows m) into the non-dominated
// points and the rest, both keeping the order. A point is only dominated by points that
// precede it lexicographically, and by transitivity a dominated point is dominated by a
// member of the front, so each point needs checking against the front found so far.
func peel(m [][]float64, order []int) (front, rest []int) {
	if len(order) > 0 && len(m[order[0]]) == 2 {
		return peel2(m, order)
	}
	for _, i := range order {
		dominated := false
		for _, f := range front {
			if dominatesMin(m[f], m[i]) {
				dominated = true
				break
			}
		}
		if dominated {
			rest = append(rest, i)
		} else {
			front = append(front, i)
		}
	}
	return front, rest
}

// peel2 is peel in two dimensions: in lexicographic order a point is non-dominated when
// its second value is below every earlier front member's, or when it equals the last
// front member exactly.
func peel2(m [][]float64, order []int) (front, rest []int) {
	for _, i := range order {
		p := m[i]
		if len(front) == 0 {
			front = append(front, i)
			continue
		}
		last := m[front[len(front)-1]]
		// The last front member has the smallest second value so far.
		if p[1] < last[1] || (p[0] == last[0] && p[1] == last[1]) {
			front = append(front, i)
		} else {
			rest = append(rest, i)
		}
	}
	return front, rest
}
