package fhe_test

import (
	"testing"

	"github.com/fhetune/fhetune/fhe"
)

// TestCostTermsByHand checks each complexity term of Concrete's 4-bit set against values
// worked out by hand: N = 1024, k = 2, n = 801, l_br = 1, l_ks = 3, sum size 4096.
func TestCostTermsByHand(t *testing.T) {
	p := concrete4Bit.MustCompile()
	c := p.Cost(0)
	for _, x := range []struct {
		name      string
		got, want float64
	}{
		// N·log2N + N = 1024·10 + 1024
		{"FFT", c.FFT, 11264},
		// (k+1)·l·FFT + (k+1)·FFT + (k+1)²·l·N = 3·11264 + 3·11264 + 9·1024
		{"CMux", c.CMux, 76800},
		// n·CMux
		{"PBS", c.PBS, 801 * 76800},
		{"PBSComplexity", p.PBSComplexity(), 61516800},
		// kN·l + kN·l·(n+1) + (kN·l − 1)·(n+1) + 1 with kN·l = 6144
		{"KeySwitch", c.KeySwitch, 6144 + 6144*802 + 6143*802 + 1},
		{"KeySwitchComplexity", p.KeySwitchComplexity(), 9860319},
		// sum size · kN
		{"DotProduct", c.DotProduct, 4096 * 2048},
		{"DotProductComplexity(10)", p.DotProductComplexity(10), 20480},
		{"Total", c.Total(), 79765727},
		{"Complexity(0)", p.Complexity(0), 79765727},
		{"Complexity(1)", p.Complexity(1), 61516800 + 9860319 + 2048},
	} {
		if x.got != x.want {
			t.Errorf("%s = %.17g, want %.17g", x.name, x.got, x.want)
		}
	}
	if c.SumSize != fhe.DefaultSumSize {
		t.Errorf("SumSize = %d, want the default %d", c.SumSize, fhe.DefaultSumSize)
	}
}

// TestCostConcreteGolden checks the golden keyswitch complexity of Concrete's
// optimizer tests (computing_cost/operators/keyswitch_lwe.rs): 1024 → 2048, level 32.
func TestCostConcreteGolden(t *testing.T) {
	p := fhe.ParamsLiteral{GLWERank: 1, LogPolyDegree: 10, LWEDimension: 2048,
		BRLevel: 1, BRLogBase: 1, KSLevel: 32, KSLogBase: 2}.MustCompile()
	if got := p.KeySwitchComplexity(); got != 134313984 {
		t.Errorf("keyswitch complexity %.17g, want 134313984", got)
	}
}
