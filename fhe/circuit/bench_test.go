package circuit_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/fhetune/fhetune/fhe/circuit"
)

// BenchmarkCompile compiles an MLP 784-64-64-10 with 500 calibration samples.
func BenchmarkCompile(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	net := randomMLP(rng, 784, []int{64, 64}, 10)
	x := randomData(rng, 500, 784)
	for _, bits := range []int{4, 8} {
		b.Run(fmt.Sprintf("bits=%d", bits), func(b *testing.B) {
			for b.Loop() {
				if _, err := circuit.Compile(net, x, circuit.Config{NWBits: bits, NABits: bits, RoundingThresholdBits: 8}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSimulate simulates 2,000 samples of an MLP 784-64-64-10 at p_error 0.01 per
// TLU (both accuracies).
func BenchmarkSimulate(b *testing.B) {
	rng := rand.New(rand.NewPCG(2, 2))
	net := randomMLP(rng, 784, []int{64, 64}, 10)
	x := randomData(rng, 2000, 784)
	y := teacherLabels(net, x)
	for _, bits := range []int{4, 8} {
		c, err := circuit.Compile(net, x, circuit.Config{NWBits: bits, NABits: bits, RoundingThresholdBits: 8})
		if err != nil {
			b.Fatal(err)
		}
		noise := circuit.UniformNoise(c, 0.01)
		b.Run(fmt.Sprintf("bits=%d", bits), func(b *testing.B) {
			for b.Loop() {
				if _, err := c.Simulate(x, y, &noise, 1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func ExampleRoundLSBs() {
	// Keep the 3 most significant bits of a 6-bit accumulator: t = 3, ties round up.
	for _, x := range []int64{19, 20, -20, -21} {
		fmt.Println(x, "→", circuit.RoundLSBs(x, 3))
	}
	// Output:
	// 19 → 16
	// 20 → 24
	// -20 → -16
	// -21 → -24
}
