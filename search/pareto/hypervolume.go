package pareto

import (
	"fmt"
	"slices"
)

// Hypervolume returns the volume of objective space that the points dominate and that
// dominates the reference point ref: the Lebesgue measure of the union of the boxes
// between each point and ref. Points that are not strictly better than ref in every
// objective add nothing. It uses [Hypervolume2D] for two objectives and [HypervolumeWFG]
// otherwise. It panics if ref or a row does not have len(dirs) values.
func Hypervolume(points [][]float64, ref []float64, dirs []Direction) float64 {
	if len(dirs) == 2 {
		return Hypervolume2D(points, ref, dirs)
	}
	return HypervolumeWFG(points, ref, dirs)
}

// Hypervolume2D is the exact two-objective hypervolume by a sweep over the front sorted by
// the first objective: O(n log n). It panics unless len(dirs) == 2 and every row and ref
// have two values.
func Hypervolume2D(points [][]float64, ref []float64, dirs []Direction) float64 {
	if len(dirs) != 2 {
		panic(fmt.Sprintf("pareto: Hypervolume2D needs 2 objectives, got %d", len(dirs)))
	}
	front, r := prepare(points, ref, dirs)
	// front is sorted by the first objective, so the second decreases along it.
	hv := 0.0
	for i, p := range front {
		next := r[0]
		if i+1 < len(front) {
			next = front[i+1][0]
		}
		hv += (next - p[0]) * (r[1] - p[1])
	}
	return hv
}

// HypervolumeWFG is the exact hypervolume in any number of objectives by the WFG
// recursion (L. While, L. Bradstreet, L. Barone, "A fast way of calculating exact
// hypervolumes", IEEE TEVC 2012): the volume of a front is the sum over its points of
// each point's exclusive volume, the volume of its box minus the volume of the "limit set"
// (the later points, each clipped to be no better than this one), itself computed
// recursively on its non-dominated part. Worst-case time is exponential in the number of
// objectives, fine for the few objectives and hundreds of points of a study.
//
// It is written here by hand because no maintained Go library computes exact n-D
// hypervolumes (gonum does not; goptuna has no multi-objective support). It panics if ref
// or a row does not have len(dirs) values.
func HypervolumeWFG(points [][]float64, ref []float64, dirs []Direction) float64 {
	front, r := prepare(points, ref, dirs)
	return wfg(front, r)
}

// prepare maps points and ref to the all-minimize frame, drops points that are not
// strictly better than ref everywhere, keeps the non-dominated ones without duplicates and
// sorts them lexicographically.
func prepare(points [][]float64, ref []float64, dirs []Direction) ([][]float64, []float64) {
	if len(ref) != len(dirs) {
		panic(fmt.Sprintf("pareto: reference point has %d objectives, want %d", len(ref), len(dirs)))
	}
	m := minimized(points, dirs)
	r := minimized([][]float64{ref}, dirs)[0]
	inside := m[:0:0]
	for _, p := range m {
		ok := true
		for j := range p {
			if !(p[j] < r[j]) {
				ok = false
				break
			}
		}
		if ok {
			inside = append(inside, p)
		}
	}
	return nondominatedUnique(inside), r
}

// nondominatedUnique returns the non-dominated rows of m (all minimized), duplicates
// removed, in lexicographic order.
func nondominatedUnique(m [][]float64) [][]float64 {
	if len(m) == 0 {
		return nil
	}
	front, _ := peel(m, lexOrder(m))
	out := make([][]float64, 0, len(front))
	for _, i := range front {
		if len(out) > 0 && slices.Equal(out[len(out)-1], m[i]) {
			continue
		}
		out = append(out, m[i])
	}
	return out
}

// wfg returns the hypervolume of pts (minimized, non-dominated, strictly inside r).
func wfg(pts [][]float64, r []float64) float64 {
	switch len(pts) {
	case 0:
		return 0
	case 1:
		return box(pts[0], r)
	case 2:
		return box(pts[0], r) + box(pts[1], r) - box(worse(pts[0], pts[1]), r)
	}
	total := 0.0
	for i, p := range pts {
		limit := make([][]float64, 0, len(pts)-i-1)
		for _, q := range pts[i+1:] {
			limit = append(limit, worse(p, q))
		}
		total += box(p, r) - wfg(nondominatedUnique(limit), r)
	}
	return total
}

// box is the volume between p and r.
func box(p, r []float64) float64 {
	v := 1.0
	for j := range p {
		v *= r[j] - p[j]
	}
	return v
}

// worse returns the component-wise maximum of p and q (the corner of their boxes'
// intersection).
func worse(p, q []float64) []float64 {
	out := make([]float64, len(p))
	for j := range p {
		out[j] = max(p[j], q[j])
	}
	return out
}
