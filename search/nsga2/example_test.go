package nsga2_test

import (
	"fmt"
	"math"

	"github.com/fhetune/fhetune/search"
	"github.com/fhetune/fhetune/search/nsga2"
	"github.com/fhetune/fhetune/search/pareto"
)

// The loop a study driver runs: ask for trial n with the history so far, evaluate,
// record the trial.
func Example() {
	space := search.Space{Params: []search.Param{
		{Name: "bits", Kind: search.Int, Low: 2, High: 8},
		{Name: "p_error", Kind: search.LogFloat, Low: 1e-6, High: 1e-1},
	}}
	dirs := []search.Direction{search.Maximize, search.Minimize} // accuracy, latency
	sampler, err := nsga2.New(nsga2.WithPopulation(10), nsga2.WithSeed(1))
	if err != nil {
		panic(err)
	}
	var history []search.Trial
	for n := 0; n < 60; n++ {
		params, err := sampler.Sample(space, dirs, history, n)
		if err != nil {
			panic(err)
		}
		bits, perr := params["bits"], params["p_error"]
		accuracy := (1 - 1/bits) * (1 - perr)
		latency := bits * bits * (1 + 0.05*(-6-math.Log10(perr)))
		history = append(history, search.Trial{
			Number: n, State: search.Complete, Params: params,
			Values: []float64{accuracy, latency},
		})
	}
	var points [][]float64
	for _, t := range history {
		points = append(points, t.Values)
	}
	front := pareto.Front(points, dirs)
	fmt.Println("trials on the front:", len(front))
	fmt.Printf("hypervolume: %.2f\n", pareto.Hypervolume(points, []float64{0, 100}, dirs))
	// Output:
	// trials on the front: 58
	// hypervolume: 79.71
}
