package tpe_test

import (
	"fmt"
	"testing"

	"github.com/fhetune/fhetune/search/searchtest"
	"github.com/fhetune/fhetune/search/tpe"
)

// BenchmarkSample measures one Sample call on the six-knob space with 100, 1,000 and
// 10,000 trials of history.
func BenchmarkSample(b *testing.B) {
	p := searchtest.Knobs()
	for _, n := range []int{100, 1000, 10000} {
		history := searchtest.RandomHistory(p, n, 1)
		b.Run(fmt.Sprintf("history=%d", n), func(b *testing.B) {
			s, err := tpe.New(tpe.WithObjective(1))
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := s.Sample(p.Space, p.Dirs, history, n); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
