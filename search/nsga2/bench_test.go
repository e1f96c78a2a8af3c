package nsga2_test

import (
	"fmt"
	"testing"

	"github.com/fhetune/fhetune/search/nsga2"
	"github.com/fhetune/fhetune/search/searchtest"
)

// BenchmarkSample measures the cost of one Sample call on the six-knob space with 100,
// 1,000 and 10,000 trials of history: "warm" is the steady state of a study (the
// generations' parents are cached), "cold" a new sampler that rebuilds them all, as after
// a restart.
func BenchmarkSample(b *testing.B) {
	p := searchtest.Knobs()
	for _, n := range []int{100, 1000, 10000} {
		history := searchtest.RandomHistory(p, n, 1)
		b.Run(fmt.Sprintf("history=%d/warm", n), func(b *testing.B) {
			s, _ := nsga2.New()
			if _, err := s.Sample(p.Space, p.Dirs, history, n); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := s.Sample(p.Space, p.Dirs, history, n); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("history=%d/cold", n), func(b *testing.B) {
			for b.Loop() {
				s, _ := nsga2.New()
				if _, err := s.Sample(p.Space, p.Dirs, history, n); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
