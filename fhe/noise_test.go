package fhe_test

import (
	"math"
	"testing"

	"github.com/fhetune/fhetune/fhe"
)

// concrete4Bit is the set Concrete's optimizer picks for a 4-bit TLU, norm2 1, p_error
// 6.334e-5 (k=2, N=2^10, n=801, br 1×2^23, ks 3×2^4).
var concrete4Bit = fhe.ParamsLiteral{GLWERank: 2, LogPolyDegree: 10, LWEDimension: 801,
	BRLevel: 1, BRLogBase: 23, KSLevel: 3, KSLogBase: 4}

func assertRel(t *testing.T, name string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol*math.Abs(want) {
		t.Errorf("%s = %.17g, want %.17g (relative error %.3g > %.3g)", name, got, want, math.Abs(got-want)/math.Abs(want), tol)
	}
}

// TestNoiseTermsByHand checks every variance term of one set against values computed by
// hand from the formulas in REFERENCES.md with 50-digit arithmetic (mpmath), in modular
// units.
func TestNoiseTermsByHand(t *testing.T) {
	p := concrete4Bit.MustCompile()
	z, err := p.Noise(128)
	if err != nil {
		t.Fatal(err)
	}
	const tol = 1e-12
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		// σ_min² at kN = 2048 and n = 801
		{"BSKVariance", z.BSKVariance, 287274987.14144916},
		{"KSKVariance", z.KSKVariance, 5.631677372903544e+27},
		// l(k+1)N(B²+2)/12·V_bsk + (q²−B^2l)/(24B^2l)·(1 + kN/2) + kN/32 + (1−kN)²/64
		{"ExternalProduct", z.ExternalProduct, 2.1169991361767168e+26},
		// 2^−2.57722494 · 2^22 · l · B² · N² · (k+1)
		{"FFT", z.FFT, 1.5557466003805953e+26},
		{"CMux", z.CMux, 3.6727457365573121e+26},
		{"BlindRotation", z.BlindRotation, 2.941869334982407e+29},
		// (q²/(12B^2l) − 1/12)/2 + 1/16 + l·V_ksk·(B²+2)/12
		{"KeySwitchPerCoefficient", z.KeySwitchPerCoefficient, 1.2083435907044315e+30},
		{"KeySwitch", z.KeySwitch, 2.4746876737626758e+33},
		// (1/12 + n/24)·q²/(2N)² + (−1/12 + n/48)
		{"ModulusSwitch", z.ModulusSwitch, 2.7144624852887152e+33},
		{"AtDecoding(0)", z.AtDecoding(0), 5.1894443459848892e+33},
		{"AtDecoding(3)", z.AtDecoding(3), 5.2079781227952784e+33},
	} {
		assertRel(t, c.name, c.got, c.want, tol)
	}
	// The single-term methods agree with Noise.
	br, _ := p.BlindRotationVariance(128)
	ks, _ := p.KeySwitchVariance(128)
	dec, _ := p.DecodingVariance(3, 128)
	if br != z.BlindRotation || ks != z.KeySwitch || p.ModulusSwitchVariance() != z.ModulusSwitch || dec != z.AtDecoding(3) {
		t.Errorf("single-term methods disagree with Noise: %g %g %g %g", br, ks, p.ModulusSwitchVariance(), dec)
	}
	pe, err := p.PError(4, 0, 128)
	if err != nil {
		t.Fatal(err)
	}
	assertRel(t, "PError(4, 0)", pe, 6.3048916995407394e-5, 1e-9)
}

// TestNoiseConcreteGolden checks the golden blind-rotation variance of Concrete's
// noise-model tests (backends/concrete-cpu/noise-model, blind_rotate.rs), modular units.
func TestNoiseConcreteGolden(t *testing.T) {
	// n = 2048, k = 2, N = 2^12, level 2, log2 base 24, q = 2^64.
	p := fhe.ParamsLiteral{GLWERank: 2, LogPolyDegree: 12, LWEDimension: 2048,
		BRLevel: 2, BRLogBase: 24, KSLevel: 1, KSLogBase: 1}.MustCompile()
	br, err := p.BlindRotationVariance(128)
	if err != nil {
		t.Fatal(err)
	}
	assertRel(t, "blind rotation", br, 4.078296369990673e31, 1e-8)
}

func TestNoiseErrors(t *testing.T) {
	for _, c := range []struct {
		name     string
		lit      fhe.ParamsLiteral
		security int
	}{
		{"GLWE key too small", fhe.ParamsLiteral{GLWERank: 1, LogPolyDegree: 8, LWEDimension: 600, BRLevel: 1, BRLogBase: 10, KSLevel: 1, KSLogBase: 10}, 128},
		{"LWE key too small", fhe.ParamsLiteral{GLWERank: 1, LogPolyDegree: 10, LWEDimension: 300, BRLevel: 1, BRLogBase: 10, KSLevel: 1, KSLogBase: 10}, 128},
		{"unsupported level", concrete4Bit, 127},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := c.lit.MustCompile().Noise(c.security); err == nil {
				t.Errorf("Noise(%d) of %v: no error", c.security, c.lit)
			}
		})
	}
}

// TestNoiseMonotone checks the shapes the optimizer's pruning relies on: the modulus
// switch variance grows with n, the keyswitch variance falls with n (a larger key allows
// less noise), and the blind rotation grows with n.
func TestNoiseMonotone(t *testing.T) {
	prev := fhe.Noise{}
	for n := 512; n <= 2047; n++ {
		lit := concrete4Bit
		lit.LWEDimension = n
		z, err := lit.MustCompile().Noise(128)
		if err != nil {
			t.Fatal(err)
		}
		if n > 512 {
			if z.ModulusSwitch <= prev.ModulusSwitch || z.BlindRotation <= prev.BlindRotation || z.KeySwitch > prev.KeySwitch {
				t.Fatalf("n=%d: ms %g→%g, br %g→%g, ks %g→%g", n, prev.ModulusSwitch, z.ModulusSwitch,
					prev.BlindRotation, z.BlindRotation, prev.KeySwitch, z.KeySwitch)
			}
		}
		prev = z
	}
}
