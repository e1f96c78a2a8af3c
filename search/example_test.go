package search_test

import (
	"fmt"

	"github.com/fhetune/fhetune/search"
)

// A space over fhetune's knobs, with a mistake that Validate reports by name.
func ExampleSpace_Validate() {
	space := search.Space{Params: []search.Param{
		{Name: "n_w_bits", Kind: search.Int, Low: 2, High: 8},
		{Name: "pruning", Kind: search.Float, Low: 0, High: 0.8, Step: 0.1},
		{Name: "p_error", Kind: search.LogFloat, Low: 0, High: 0.01},
	}}
	fmt.Println(space.Validate())
	space.Params[2].Low = 1e-6
	fmt.Println(space.Validate())
	// Output:
	// search: parameter "p_error": log scale needs low > 0, got low 0
	// <nil>
}

func ExampleParam_Label() {
	rounding := search.Param{Name: "rounding_threshold_bits", Kind: search.Categorical, Choices: []string{"off", "6", "8"}}
	pruning := search.Param{Name: "pruning", Kind: search.Float, Low: 0, High: 0.8, Step: 0.1}
	fmt.Println(rounding.Label(0), pruning.Label(pruning.Value(3)), pruning.Count())
	// Output: off 0.3 9
}
