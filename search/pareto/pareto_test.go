package pareto_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/fhetune/fhetune/search/pareto"
)

var (
	minMin = []pareto.Direction{pareto.Minimize, pareto.Minimize}
	maxMin = []pareto.Direction{pareto.Maximize, pareto.Minimize}
	min3   = []pareto.Direction{pareto.Minimize, pareto.Minimize, pareto.Minimize}
)

func TestDominates(t *testing.T) {
	cases := []struct {
		name string
		a, b []float64
		dirs []pareto.Direction
		want bool
	}{
		{"better in both", []float64{1, 1}, []float64{2, 2}, minMin, true},
		{"better in one equal in other", []float64{1, 2}, []float64{2, 2}, minMin, true},
		{"equal points", []float64{1, 2}, []float64{1, 2}, minMin, false},
		{"trade-off", []float64{1, 3}, []float64{2, 2}, minMin, false},
		{"worse", []float64{3, 3}, []float64{2, 2}, minMin, false},
		{"maximize first", []float64{0.9, 10}, []float64{0.8, 10}, maxMin, true},
		{"maximize first, lower is worse", []float64{0.8, 10}, []float64{0.9, 10}, maxMin, false},
		{"three objectives", []float64{1, 2, 3}, []float64{1, 2, 4}, min3, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := pareto.Dominates(c.a, c.b, c.dirs); got != c.want {
				t.Errorf("Dominates(%v, %v) = %v, want %v", c.a, c.b, got, c.want)
			}
		})
	}
}

func TestConstrainedDominates(t *testing.T) {
	good, bad := []float64{1, 1}, []float64{5, 5}
	cases := []struct {
		name   string
		a, b   []float64
		va, vb float64
		want   bool
	}{
		{"both feasible, pareto", good, bad, 0, -1, true},
		{"both feasible, reverse", bad, good, 0, 0, false},
		{"feasible beats infeasible though worse", bad, good, 0, 0.1, true},
		{"infeasible loses to feasible though better", good, bad, 0.1, 0, false},
		{"smaller violation wins", bad, good, 0.1, 0.2, true},
		{"larger violation loses", good, bad, 0.3, 0.2, false},
		{"equal violation: neither", good, bad, 0.2, 0.2, false},
		{"NaN violation is worst", bad, good, 1e9, math.NaN(), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := pareto.ConstrainedDominates(c.a, c.b, c.va, c.vb, minMin); got != c.want {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestSort(t *testing.T) {
	cases := []struct {
		name   string
		points [][]float64
		dirs   []pareto.Direction
		want   [][]int
	}{
		{"empty", nil, minMin, nil},
		{"single", [][]float64{{1, 1}}, minMin, [][]int{{0}}},
		{
			"three fronts with a duplicate",
			[][]float64{{1, 5}, {2, 3}, {3, 1}, {2, 4}, {4, 4}, {3, 3}, {1, 5}},
			minMin,
			[][]int{{0, 1, 2, 6}, {3, 5}, {4}},
		},
		{
			"accuracy up, latency down",
			[][]float64{{0.9, 10}, {0.95, 20}, {0.8, 5}, {0.85, 12}},
			maxMin,
			[][]int{{0, 1, 2}, {3}},
		},
		{
			"equal first objective",
			[][]float64{{1, 3}, {1, 2}, {1, 1}},
			minMin,
			[][]int{{2}, {1}, {0}},
		},
		{
			"three objectives",
			[][]float64{{1, 2, 3}, {3, 2, 1}, {2, 2, 2}, {2, 3, 3}},
			min3,
			[][]int{{0, 1, 2}, {3}},
		},
		{
			"chain in three objectives",
			[][]float64{{3, 3, 3}, {1, 1, 1}, {2, 2, 2}},
			min3,
			[][]int{{1}, {2}, {0}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := pareto.Sort(c.points, c.dirs)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("Sort = %v, want %v", got, c.want)
			}
			var front []int
			if len(c.want) > 0 {
				front = c.want[0]
			}
			if got := pareto.Front(c.points, c.dirs); !reflect.DeepEqual(got, front) {
				t.Errorf("Front = %v, want %v", got, front)
			}
		})
	}
}

// bruteRanks computes each point's front index from the definition: rank 0 if no point
// dominates it, else one more than the highest rank among its dominators.
func bruteRanks(points [][]float64, dirs []pareto.Direction) []int {
	n := len(points)
	rank := make([]int, n)
	for i := range rank {
		rank[i] = -1
	}
	for done := 0; done < n; {
		for i := range points {
			if rank[i] >= 0 {
				continue
			}
			r, ready := 0, true
			for j := range points {
				if pareto.Dominates(points[j], points[i], dirs) {
					if rank[j] < 0 {
						ready = false
						break
					}
					r = max(r, rank[j]+1)
				}
			}
			if ready {
				rank[i] = r
				done++
			}
		}
	}
	return rank
}

func TestSortMatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 60; trial++ {
		dim := 2 + trial%3
		dirs := make([]pareto.Direction, dim)
		for j := range dirs {
			dirs[j] = pareto.Direction(rng.IntN(2))
		}
		n := 1 + rng.IntN(80)
		points := make([][]float64, n)
		for i := range points {
			points[i] = make([]float64, dim)
			for j := range points[i] {
				// Few distinct values, so ties and duplicates are common.
				points[i][j] = float64(rng.IntN(6))
			}
		}
		want := bruteRanks(points, dirs)
		fronts := pareto.Sort(points, dirs)
		seen := 0
		for r, f := range fronts {
			for _, i := range f {
				if want[i] != r {
					t.Fatalf("dim %d: point %v in front %d, want %d", dim, points[i], r, want[i])
				}
				seen++
			}
		}
		if seen != n {
			t.Fatalf("fronts hold %d points, want %d", seen, n)
		}
	}
}

func TestSortConstrained(t *testing.T) {
	points := [][]float64{{1, 1}, {5, 5}, {2, 2}, {0, 0}, {0, 1}, {3, 0}}
	viol := []float64{0, 0, 0.5, 0.2, 0.2, math.NaN()}
	// Feasible: 0 dominates 1. Infeasible: 3 and 4 (0.2) then 2 (0.5) then 5 (NaN = +Inf).
	want := [][]int{{0}, {1}, {3, 4}, {2}, {5}}
	if got := pareto.SortConstrained(points, viol, minMin); !reflect.DeepEqual(got, want) {
		t.Errorf("SortConstrained = %v, want %v", got, want)
	}
	// With every point feasible it is Sort.
	zero := make([]float64, len(points))
	if got, want := pareto.SortConstrained(points, zero, minMin), pareto.Sort(points, minMin); !reflect.DeepEqual(got, want) {
		t.Errorf("all feasible: %v, want %v", got, want)
	}
}

func TestCrowdingDistance(t *testing.T) {
	inf := math.Inf(1)
	cases := []struct {
		name   string
		points [][]float64
		want   []float64
	}{
		{"empty", nil, []float64{}},
		{"two points", [][]float64{{1, 2}, {2, 1}}, []float64{inf, inf}},
		{"three points", [][]float64{{1, 5}, {2, 3}, {4, 1}}, []float64{inf, 2, inf}},
		{"four points", [][]float64{{0, 4}, {1, 2}, {3, 1}, {4, 0}}, []float64{inf, 1.5, 1.25, inf}},
		{"constant objective adds nothing", [][]float64{{1, 1}, {1, 2}, {1, 3}}, []float64{inf, 1, inf}},
		{"order does not matter", [][]float64{{4, 0}, {1, 2}, {0, 4}, {3, 1}}, []float64{inf, 1.5, inf, 1.25}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := pareto.CrowdingDistance(c.points)
			if len(got) != len(c.want) {
				t.Fatalf("len %d, want %d", len(got), len(c.want))
			}
			for i := range got {
				if math.Abs(got[i]-c.want[i]) > 1e-12 && got[i] != c.want[i] {
					t.Errorf("distance %d = %g, want %g", i, got[i], c.want[i])
				}
			}
		})
	}
}

func TestHypervolumeKnown(t *testing.T) {
	cases := []struct {
		name   string
		points [][]float64
		ref    []float64
		dirs   []pareto.Direction
		want   float64
	}{
		{"empty", nil, []float64{1, 1}, minMin, 0},
		{"staircase", [][]float64{{1, 3}, {2, 2}, {3, 1}}, []float64{4, 4}, minMin, 6},
		{"dominated and outside points add nothing",
			[][]float64{{1, 3}, {2, 2}, {3, 1}, {3, 3}, {5, 0}, {4, 0}, {2, 2}}, []float64{4, 4}, minMin, 6},
		{"maximize both", [][]float64{{3, 1}, {2, 2}, {1, 3}},
			[]float64{0, 0}, []pareto.Direction{pareto.Maximize, pareto.Maximize}, 6},
		{"accuracy and latency", [][]float64{{0.9, 10}, {0.8, 5}},
			[]float64{0.5, 20}, maxMin, 0.4*10 + 0.3*5},
		{"one point in 3-D", [][]float64{{1, 1, 1}}, []float64{2, 3, 4}, min3, 6},
		{"two points in 3-D", [][]float64{{0, 0, 1}, {0, 1, 0}}, []float64{2, 2, 2}, min3, 6},
		{"three corners in 3-D", [][]float64{{0, 1, 1}, {1, 0, 1}, {1, 1, 0}}, []float64{2, 2, 2}, min3, 4},
		{"one point in 4-D", [][]float64{{0, 0, 0, 0}}, []float64{1, 2, 3, 4},
			[]pareto.Direction{0, 0, 0, 0}, 24},
		{"one objective", [][]float64{{3}, {1}, {2}}, []float64{5}, []pareto.Direction{pareto.Minimize}, 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := pareto.Hypervolume(c.points, c.ref, c.dirs); math.Abs(got-c.want) > 1e-12 {
				t.Errorf("Hypervolume = %g, want %g", got, c.want)
			}
			if got := pareto.HypervolumeWFG(c.points, c.ref, c.dirs); math.Abs(got-c.want) > 1e-12 {
				t.Errorf("HypervolumeWFG = %g, want %g", got, c.want)
			}
		})
	}
}

// TestHypervolume2DAgreesWithWFG compares the 2-D sweep with the WFG recursion (which has
// no 2-D special case) on random sets, including fronts and dominated clouds.
func TestHypervolume2DAgreesWithWFG(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := 0; trial < 200; trial++ {
		n := 1 + rng.IntN(60)
		points := make([][]float64, n)
		for i := range points {
			if trial%2 == 0 { // on a concave front, all non-dominated
				x := rng.Float64()
				points[i] = []float64{x, 1 - math.Sqrt(x)}
			} else {
				points[i] = []float64{rng.Float64(), rng.Float64()}
			}
		}
		ref := []float64{1.1, 1.1}
		a := pareto.Hypervolume2D(points, ref, minMin)
		b := pareto.HypervolumeWFG(points, ref, minMin)
		if math.Abs(a-b) > 1e-12 {
			t.Fatalf("set %d (%d points): 2-D %v, WFG %v", trial, n, a, b)
		}
	}
}

// cellVolume counts the unit cells dominated by integer points: exact for integer data.
func cellVolume(points [][]float64, ref []float64) float64 {
	dim := len(ref)
	idx := make([]int, dim)
	count := 0
	for {
		for _, p := range points {
			in := true
			for j := range p {
				// The cell [idx, idx+1) is dominated when p ≤ idx in every objective.
				if p[j] > float64(idx[j]) {
					in = false
					break
				}
			}
			if in {
				count++
				break
			}
		}
		j := 0
		for ; j < dim; j++ {
			idx[j]++
			if idx[j] < int(ref[j]) {
				break
			}
			idx[j] = 0
		}
		if j == dim {
			return float64(count)
		}
	}
}

func TestHypervolumeWFGAgreesWithCellCount(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := 0; trial < 150; trial++ {
		dim := 2 + trial%4 // 2..5 objectives
		dirs := make([]pareto.Direction, dim)
		ref := make([]float64, dim)
		for j := range ref {
			ref[j] = 6
		}
		n := 1 + rng.IntN(25)
		points := make([][]float64, n)
		for i := range points {
			points[i] = make([]float64, dim)
			for j := range points[i] {
				points[i][j] = float64(rng.IntN(7)) // 6 is on the reference: adds nothing
			}
		}
		want := cellVolume(points, ref)
		if got := pareto.HypervolumeWFG(points, ref, dirs); got != want {
			t.Fatalf("dim %d, %d points: WFG %v, cell count %v", dim, n, got, want)
		}
		if got := pareto.Hypervolume(points, ref, dirs); got != want {
			t.Fatalf("dim %d, %d points: Hypervolume %v, cell count %v", dim, n, got, want)
		}
	}
}

// TestHypervolumeMaximizeMirror checks that flipping a direction and mirroring the data
// leaves the volume unchanged.
func TestHypervolumeMaximizeMirror(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	points := make([][]float64, 40)
	mirrored := make([][]float64, 40)
	for i := range points {
		points[i] = []float64{rng.Float64(), rng.Float64(), rng.Float64()}
		mirrored[i] = []float64{-points[i][0], points[i][1], -points[i][2]}
	}
	dirs := []pareto.Direction{pareto.Maximize, pareto.Minimize, pareto.Maximize}
	a := pareto.Hypervolume(points, []float64{1, 1, 1}, min3)
	b := pareto.Hypervolume(mirrored, []float64{-1, 1, -1}, dirs)
	if math.Abs(a-b) > 1e-12 || a <= 0 {
		t.Errorf("minimize %v, mirrored maximize %v", a, b)
	}
}

func TestParseDirection(t *testing.T) {
	for _, c := range []struct {
		in   string
		want pareto.Direction
	}{{"minimize", pareto.Minimize}, {"Maximize", pareto.Maximize}, {" max ", pareto.Maximize}, {"min", pareto.Minimize}} {
		got, err := pareto.ParseDirection(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseDirection(%q) = %v, %v", c.in, got, err)
		}
		if back, _ := pareto.ParseDirection(got.String()); back != got {
			t.Errorf("round trip of %v failed", got)
		}
	}
	if _, err := pareto.ParseDirection("up"); !errors.Is(err, pareto.ErrUnknownDirection) {
		t.Errorf("ParseDirection(up) error = %v", err)
	}
}

func TestPanicsOnLengthMismatch(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic for a 3-value point with 2 directions")
		}
	}()
	pareto.Sort([][]float64{{1, 2}, {1, 2, 3}}, minMin)
}
