package pareto

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// CrowdingDistance returns the crowding distance of each point within the set, taken as
// one front (Deb et al., NSGA-II, 2002): for every objective the points are sorted by
// value, the two extremes get +Inf and every other point adds the gap between its two
// neighbours divided by the objective's range in the set. Objectives whose values are
// all equal add nothing. Sets of one or two points are all +Inf. Directions do not
// matter. It panics if the rows do not all have the same length.
func CrowdingDistance(points [][]float64) []float64 {
	n := len(points)
	dist := make([]float64, n)
	if n == 0 {
		return dist
	}
	if n <= 2 {
		for i := range dist {
			dist[i] = math.Inf(1)
		}
		return dist
	}
	dim := len(points[0])
	for i, p := range points {
		if len(p) != dim {
			panic(fmt.Sprintf("pareto: point %d has %d objectives, want %d", i, len(p), dim))
		}
	}
	order := make([]int, n)
	for j := 0; j < dim; j++ {
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int {
			if c := cmp.Compare(points[a][j], points[b][j]); c != 0 {
				return c
			}
			return cmp.Compare(a, b)
		})
		lo, hi := points[order[0]][j], points[order[n-1]][j]
		if hi == lo {
			continue
		}
		dist[order[0]] = math.Inf(1)
		dist[order[n-1]] = math.Inf(1)
		for k := 1; k < n-1; k++ {
			dist[order[k]] += (points[order[k+1]][j] - points[order[k-1]][j]) / (hi - lo)
		}
	}
	return dist
}
