package studies_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/fhetune/fhetune/studies"
)

// A two-objective study: three trials run and complete; the stored Pareto front keeps
// the two that are not dominated.
func Example() {
	dir, err := os.MkdirTemp("", "studies-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	ctx := context.Background()
	s, err := studies.Open(ctx, filepath.Join(dir, "fhetune.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	st, err := s.CreateStudy(ctx, studies.NewStudy{
		Name: "mlp-digits",
		Objectives: []studies.Objective{
			{Name: "accuracy", Direction: studies.Maximize},
			{Name: "latency_ms", Direction: studies.Minimize},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	results := map[float64][]float64{ // n_a_bits → accuracy, latency
		4: {0.91, 180},
		5: {0.90, 350}, // worse on both counts than 4 bits
		6: {0.95, 420},
	}
	for _, bits := range []float64{4, 5, 6} {
		t, err := s.StartTrial(ctx, st.ID, "example")
		if err != nil {
			log.Fatal(err)
		}
		if err := s.SetParams(ctx, t.ID, []studies.Param{{Name: "n_a_bits", Value: bits}}); err != nil {
			log.Fatal(err)
		}
		if err := s.Complete(ctx, t.ID, results[bits], nil); err != nil {
			log.Fatal(err)
		}
	}
	front, err := s.ParetoFront(ctx, st.ID)
	if err != nil {
		log.Fatal(err)
	}
	for _, t := range front {
		fmt.Printf("trial %d: n_a_bits=%v accuracy=%v latency_ms=%v\n", t.Number, t.Params[0].Value, t.Values[0], t.Values[1])
	}
	// Output:
	// trial 0: n_a_bits=4 accuracy=0.91 latency_ms=180
	// trial 2: n_a_bits=6 accuracy=0.95 latency_ms=420
}
