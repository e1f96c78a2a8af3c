package grid_test

import (
	"testing"

	"github.com/fhetune/fhetune/search"
	"github.com/fhetune/fhetune/search/grid"
	"github.com/fhetune/fhetune/search/searchtest"
)

// BenchmarkSample measures one Sample call on the six-knob space with 100, 1,000 and
// 10,000 trials of history.
func BenchmarkSample(b *testing.B) {
	searchtest.BenchmarkSample(b, func() (search.Sampler, error) { return grid.New() })
}
