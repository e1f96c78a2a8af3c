package fhe

import "fmt"

// NoiseModel names the implementation whose noise a variance describes. The optimizer
// always chooses sets with Concrete's model, so that its picks are Concrete's; the same
// sets run by tfhe-go (the executor behind `fhetune verify`) have somewhat different
// noise, which [TFHEGoNoise] describes.
type NoiseModel int

const (
	// ConcreteNoise is Concrete's CPU noise model (noise.go).
	ConcreteNoise NoiseModel = iota
	// TFHEGoNoise is tfhe-go v0.6.1's atomic pattern as fhe/executor runs it. It
	// differs from Concrete's in two terms, each read in tfhe-go's source and measured
	// (fhe/executor's TestNoiseModel):
	//
	//   - blind rotation: tfhe-go's CMux computes (X^a − 1)·(BSK_i ⊡ decompose(acc))
	//     (tfhe/bootstrap.go, blindRotateOriginalAssign: gadget product first, then the
	//     product by X^a − 1 in the Fourier domain), so the external product's error,
	//     rounding, key and FFT alike, is multiplied by a polynomial of two monomials:
	//     each CMux adds twice Concrete's variance (Concrete multiplies by X^a − 1
	//     before the external product, whose error is then added once);
	//   - keyswitch within a set: tfhe-go's small LWE key is the first n coefficients of
	//     the big key (tfhe/encryptor_key.go), and its bootstrap keyswitching key only
	//     switches the other k·N − n (tfhe/bootstrap_keygen.go,
	//     GenKeySwitchKeyForBootstrap): (k·N − n)·V_ks1 instead of k·N·V_ks1. A
	//     keyswitch between two sets has independent keys and keeps k·N·V_ks1.
	TFHEGoNoise
)

// String returns "concrete" or "tfhe-go".
func (m NoiseModel) String() string {
	if m == TFHEGoNoise {
		return "tfhe-go"
	}
	return "concrete"
}

// NoiseOf returns every variance term of p at the given security level under model m;
// [Params.Noise] is NoiseOf with [ConcreteNoise].
func (p Params) NoiseOf(security int, m NoiseModel) (Noise, error) {
	z, err := p.Noise(security)
	if err != nil || m != TFHEGoNoise {
		return z, err
	}
	z.ExternalProduct *= 2
	z.FFT *= 2
	z.CMux *= 2
	z.BlindRotation *= 2
	z.KeySwitch = float64(p.GLWEDimension()-p.LWEDimension()) * z.KeySwitchPerCoefficient
	return z, nil
}

// Variances returns the variance of every decoding of g under the sets of sol, with
// noise model m (modular units). With [ConcreteNoise] they are the optimizer's own,
// sol.Decodings[i].Variance; with [TFHEGoNoise] they are what the same sets give when
// tfhe-go runs them.
func (g Graph) Variances(sol GraphSolution, m NoiseModel) ([]float64, error) {
	if len(sol.Partitions) != g.Partitions {
		return nil, fmt.Errorf("%w: graph of %d partitions, solution of %d", ErrInvalidQuery, g.Partitions, len(sol.Partitions))
	}
	sec := g.Security
	if sec == 0 {
		sec = DefaultSecurity
	}
	zs := make([]Noise, g.Partitions)
	for i, p := range sol.Partitions {
		z, err := p.NoiseOf(sec, m)
		if err != nil {
			return nil, err
		}
		zs[i] = z
	}
	out := make([]float64, len(g.Decodings))
	for i, d := range g.Decodings {
		var v float64
		for p, c := range d.BR {
			v += c * zs[p].BlindRotation
		}
		for p, c := range d.Fresh {
			v += c * zs[p].BSKVariance
		}
		if d.Bootstrap {
			ks, err := switchVariance(sol, d.Src, d.Dst, sec)
			if err != nil {
				return nil, fmt.Errorf("decoding %s: %w", d.Name, err)
			}
			if d.Src == d.Dst && m == TFHEGoNoise {
				p := sol.Partitions[d.Src]
				ks *= float64(p.GLWEDimension()-p.LWEDimension()) / float64(p.GLWEDimension())
			}
			v += ks + zs[d.Dst].ModulusSwitch
		}
		out[i] = v
	}
	return out, nil
}

// switchVariance returns Concrete's variance of the keyswitch from partition src to dst
// with the decomposition sol chose for it.
func switchVariance(sol GraphSolution, src, dst, security int) (float64, error) {
	d, ok := sol.Switches[Switch{From: src, To: dst}]
	if !ok {
		return 0, fmt.Errorf("%w: no keyswitch %d→%d in the solution", ErrInvalidQuery, src, dst)
	}
	v, _, err := KeySwitchBetween(sol.Partitions[src], sol.Partitions[dst], d.Level, d.LogBase, security)
	return v, err
}
