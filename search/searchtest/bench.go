package searchtest

import (
	"fmt"
	"testing"

	"github.com/fhetune/fhetune/search"
)

// BenchmarkSample measures one Sample call of the sampler that newSampler makes, on the
// six-knob space with 100, 1,000 and 10,000 trials of history, one sub-benchmark each.
// The sampler is made once per sub-benchmark, so a sampler with caches is measured warm
// after its first call.
func BenchmarkSample(b *testing.B, newSampler func() (search.Sampler, error)) {
	p := Knobs()
	for _, n := range []int{100, 1000, 10000} {
		history := RandomHistory(p, n, 1)
		b.Run(fmt.Sprintf("history=%d", n), func(b *testing.B) {
			s, err := newSampler()
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
