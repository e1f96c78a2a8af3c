package act_test

import (
	"math"
	"testing"

	"github.com/fhetune/fhetune/act"
)

// TestValue checks each function at points computed by hand.
func TestValue(t *testing.T) {
	for _, c := range []struct {
		fn          string
		alpha, x, y float64
	}{
		{act.ReLU, 0, -2, 0},
		{act.ReLU, 0, 1.5, 1.5},
		{act.LeakyReLU, 0.1, -2, -0.2},
		{act.LeakyReLU, 0.1, 3, 3},
		{act.Sigmoid, 0, 0, 0.5},
		{act.Sigmoid, 0, -800, 0},
		{act.Sigmoid, 0, math.Log(3), 0.75},
		{act.Tanh, 0, math.Log(2), 0.6},
		{act.GELU, 0, 0, 0},
		{act.GELU, 0, 1, 0.8413447460685429},
		{act.GELU, 0, -1, -0.15865525393145707},
		{"identity", 0, -7, -7},
	} {
		if got := act.Value(c.fn, c.alpha, c.x); math.Abs(got-c.y) > 1e-12 {
			t.Errorf("%s(%g) = %g, want %g", c.fn, c.x, got, c.y)
		}
	}
}
