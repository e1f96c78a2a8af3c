package fhe_test

import (
	"fmt"

	"github.com/fhetune/fhetune/fhe"
)

// The cheapest set for a 4-bit TLU after a dot product of 2-norm 1, at Concrete's
// reference p_error: the set Concrete's optimizer picks.
func ExampleOptimizer_Optimize() {
	o, err := fhe.NewOptimizer()
	if err != nil {
		panic(err)
	}
	s, err := o.Optimize(fhe.Query{Precision: 4, Log2Norm2: 0, PError: fhe.ReferencePError})
	if err != nil {
		panic(err)
	}
	fmt.Println(s.Params)
	fmt.Printf("complexity %.0f, p_error %.2e\n", s.Complexity, s.PError)
	// Output:
	// k=2 N=2^10 n=801 br=1x23 ks=3x4
	// complexity 79765727, p_error 6.30e-05
}

// A circuit of two TLU layers with a global error budget: one set per layer.
func ExampleOptimizer_Circuit() {
	o, err := fhe.NewOptimizer()
	if err != nil {
		panic(err)
	}
	cs, err := o.Circuit(fhe.CircuitQuery{
		Groups: []fhe.TLUGroup{
			{Precision: 6, Log2Norm2: 3, Count: 128},
			{Precision: 4, Log2Norm2: 5, Count: 10},
		},
		GlobalPError: 0.01,
	})
	if err != nil {
		panic(err)
	}
	for _, s := range cs.Groups {
		fmt.Println(s.Params)
	}
	fmt.Printf("per TLU %.2e, global %.4f\n", cs.PErrorPerTLU, cs.GlobalPError)
	// Output:
	// k=1 N=2^12 n=909 br=1x22 ks=6x3
	// k=2 N=2^10 n=810 br=1x23 ks=3x5
	// per TLU 7.28e-05, global 0.0099
}
