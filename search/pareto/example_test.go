package pareto_test

import (
	"fmt"

	"github.com/fhetune/fhetune/search/pareto"
)

// Trials as (accuracy, latency in ms): maximize the first, minimize the second.
func Example() {
	points := [][]float64{{0.95, 40}, {0.93, 12}, {0.90, 15}, {0.80, 5}, {0.93, 12}}
	dirs := []pareto.Direction{pareto.Maximize, pareto.Minimize}

	fmt.Println("fronts:", pareto.Sort(points, dirs))
	fmt.Println("front:", pareto.Front(points, dirs))
	fmt.Printf("hypervolume above accuracy 0.5, below 50 ms: %.2f\n",
		pareto.Hypervolume(points, []float64{0.5, 50}, dirs))
	// Output:
	// fronts: [[0 1 3 4] [2]]
	// front: [0 1 3 4]
	// hypervolume above accuracy 0.5, below 50 ms: 18.64
}
