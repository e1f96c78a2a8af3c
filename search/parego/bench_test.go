package parego_test

import (
	"testing"

	"github.com/fhetune/fhetune/search"
	"github.com/fhetune/fhetune/search/parego"
	"github.com/fhetune/fhetune/search/searchtest"
)

// BenchmarkSample measures one Sample call on the six-knob space with 100, 1,000 and
// 10,000 trials of history (the model sees the best 100).
func BenchmarkSample(b *testing.B) {
	searchtest.BenchmarkSample(b, func() (search.Sampler, error) { return parego.New() })
}
