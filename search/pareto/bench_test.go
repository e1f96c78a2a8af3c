package pareto_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fhetune/fhetune/search/pareto"
)

func cloud(n, dim int, seed uint64) [][]float64 {
	rng := rand.New(rand.NewPCG(seed, 1))
	pts := make([][]float64, n)
	for i := range pts {
		pts[i] = make([]float64, dim)
		for j := range pts[i] {
			pts[i][j] = rng.Float64()
		}
	}
	return pts
}

// sphere returns n points on the front x² + y² + z² = 1 (all non-dominated).
func sphere(n int, seed uint64) [][]float64 {
	rng := rand.New(rand.NewPCG(seed, 2))
	pts := make([][]float64, n)
	for i := range pts {
		x, y, z := math.Abs(rng.NormFloat64()), math.Abs(rng.NormFloat64()), math.Abs(rng.NormFloat64())
		r := math.Sqrt(x*x + y*y + z*z)
		pts[i] = []float64{x / r, y / r, z / r}
	}
	return pts
}

func BenchmarkSort(b *testing.B) {
	for _, dim := range []int{2, 3} {
		for _, n := range []int{1000, 10000} {
			pts := cloud(n, dim, 1)
			dirs := make([]pareto.Direction, dim)
			b.Run(fmt.Sprintf("dim=%d/n=%d", dim, n), func(b *testing.B) {
				for b.Loop() {
					pareto.Sort(pts, dirs)
				}
			})
		}
	}
}

func BenchmarkHypervolume(b *testing.B) {
	pts := cloud(10000, 2, 2)
	b.Run("2D/n=10000", func(b *testing.B) {
		for b.Loop() {
			pareto.Hypervolume2D(pts, []float64{1.1, 1.1}, []pareto.Direction{0, 0})
		}
	})
	for _, n := range []int{50, 200} {
		front := sphere(n, 3)
		b.Run(fmt.Sprintf("WFG-3D-front/n=%d", n), func(b *testing.B) {
			for b.Loop() {
				pareto.HypervolumeWFG(front, []float64{1.1, 1.1, 1.1}, []pareto.Direction{0, 0, 0})
			}
		})
	}
}
