package tuner

import (
	"math"
	"strings"

	"github.com/fhetune/fhetune/search"
	"github.com/fhetune/fhetune/search/pareto"
	"github.com/fhetune/fhetune/studies"
)

// The hypervolume fhetune reports (progress, history, sampler comparisons) is measured
// in a fixed transformed objective space:
//
//   - objectives in milliseconds (names ending in "_ms", such as latency_ms) are taken
//     in log10, since latencies span decades and a step from 10 ms to 5 ms matters as
//     much as one from 10 s to 5 s;
//   - the reference point is the nadir (the worst value of each objective among the
//     points) moved outward by a tenth of the objective's range, so that the extreme
//     points of the front add volume too. As trials are added the nadir only gets worse
//     and the range only grows, so the reference point only moves outward and the
//     hypervolume of a growing set of trials never decreases (it is 0 for one point).
//
// Accuracy times decades of latency is its unit: a hypervolume of 0.5 is, say, a front
// half a unit of accuracy high across one decade of latency.

// hvSpace transforms points for the hypervolume and returns them with the reference
// point.
func hvSpace(points [][]float64, dirs []search.Direction, names []string) ([][]float64, []float64) {
	if len(points) == 0 {
		return nil, nil
	}
	m := len(dirs)
	tp := make([][]float64, len(points))
	for i, p := range points {
		tp[i] = make([]float64, m)
		for j, v := range p {
			if j < len(names) && strings.HasSuffix(names[j], "_ms") {
				v = math.Log10(math.Max(v, 1e-9))
			}
			tp[i][j] = v
		}
	}
	ref := make([]float64, m)
	for j := 0; j < m; j++ {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, p := range tp {
			lo, hi = math.Min(lo, p[j]), math.Max(hi, p[j])
		}
		margin := 0.1 * (hi - lo)
		if dirs[j] == search.Maximize {
			ref[j] = lo - margin
		} else {
			ref[j] = hi + margin
		}
	}
	return tp, ref
}

// Hypervolume returns the hypervolume of points (one row of objective values per
// complete trial) with the objectives' directions and names, in fhetune's transformed
// space (see above); 0 for no points.
func Hypervolume(points [][]float64, dirs []search.Direction, names []string) float64 {
	tp, ref := hvSpace(finite(points), dirs, names)
	if len(tp) == 0 {
		return 0
	}
	return pareto.Hypervolume(tp, ref, dirs)
}

// HypervolumeHistory returns, for each trial of trials (in the order given, normally by
// number), the hypervolume of the complete trials up to and including it, all measured
// against the reference point of the whole set, so the curve is comparable along its
// length and never decreases.
func HypervolumeHistory(trials []studies.Trial, objs []studies.Objective) []float64 {
	dirs, names := objectiveForms(objs)
	var all [][]float64
	for _, t := range trials {
		if usable(t, len(objs)) {
			all = append(all, t.Values)
		}
	}
	_, ref := hvSpace(all, dirs, names)
	out := make([]float64, len(trials))
	var seen [][]float64
	hv := 0.0
	for i, t := range trials {
		if usable(t, len(objs)) {
			seen = append(seen, t.Values)
			tp, _ := hvSpace(seen, dirs, names)
			hv = pareto.Hypervolume(tp, ref, dirs)
		}
		out[i] = hv
	}
	return out
}

func usable(t studies.Trial, m int) bool {
	if t.State != studies.Complete || len(t.Values) != m {
		return false
	}
	for _, v := range t.Values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

func finite(points [][]float64) [][]float64 {
	out := points[:0:0]
	for _, p := range points {
		ok := true
		for _, v := range p {
			ok = ok && !math.IsNaN(v) && !math.IsInf(v, 0)
		}
		if ok {
			out = append(out, p)
		}
	}
	return out
}

// objectiveForms returns the search directions and names of stored objectives.
func objectiveForms(objs []studies.Objective) ([]search.Direction, []string) {
	dirs := make([]search.Direction, len(objs))
	names := make([]string, len(objs))
	for i, o := range objs {
		names[i] = o.Name
		if o.Direction == studies.Maximize {
			dirs[i] = search.Maximize
		}
	}
	return dirs, names
}

// HypervolumeAgainst returns the hypervolume of points with the reference point of the
// larger set all (which should hold points), so that several runs, each measured
// against the union of their trials, compare on one scale.
func HypervolumeAgainst(points, all [][]float64, dirs []search.Direction, names []string) float64 {
	_, ref := hvSpace(finite(all), dirs, names)
	tp, _ := hvSpace(finite(points), dirs, names)
	if len(tp) == 0 {
		return 0
	}
	return pareto.Hypervolume(tp, ref, dirs)
}
