package fhe

// Cost model: Concrete's CPU complexity model (compilers/concrete-optimizer,
// computing_cost), a count of elementary operations. Every count is an integer below
// 2^53 over the whole search space, so float64 holds it exactly and comparisons between
// sets are exact.

// DefaultSumSize is the number of terms of the dot product feeding a TLU when a query
// leaves it zero (Concrete's v0 tables use 4096).
const DefaultSumSize = 4096

// fftComplexity is the cost of one forward or inverse FFT of size N with its
// conversion: N·log2N + N.
func fftComplexity(logN int) float64 {
	n := pow2(logN)
	return n*float64(logN) + n
}

// cmuxComplexity is the cost of one CMux (external product) with a GLWE of rank k and
// a bootstrapping-key decomposition of the given level:
//
//	(k+1)·l·FFT(N) + (k+1)·FFT(N) + (k+1)²·l·N
//
// (forward FFTs of the decomposed input, inverse FFTs of the output, products).
func cmuxComplexity(k, logN, level int) float64 {
	k1, l := float64(k+1), float64(level)
	fft := fftComplexity(logN)
	return k1*l*fft + k1*fft + k1*k1*l*pow2(logN)
}

// keySwitchComplexity is the cost of a keyswitch from dimension kN to n with the given
// level: kN·l decompositions, kN·l·(n+1) multiplications, (kN·l − 1)·(n+1) + 1 additions.
func keySwitchComplexity(kN, n, level int) float64 {
	d := float64(kN) * float64(level)
	size := float64(n + 1)
	return d + d*size + (d-1)*size + 1
}

// dotProductComplexity is the cost of a dot product of sumSize LWE ciphertexts of
// dimension kN with clear integer weights: sumSize·kN.
func dotProductComplexity(sumSize, kN int) float64 {
	return float64(sumSize) * float64(kN)
}

// Cost holds the complexity terms of one parameter set. Make it with [Params.Cost].
type Cost struct {
	// FFT is the cost of one FFT of size N: N·log2N + N.
	FFT float64
	// CMux is the cost of one CMux of the blind rotation.
	CMux float64
	// PBS is n·CMux, the cost of one programmable bootstrap.
	PBS float64
	// KeySwitch is the cost of one keyswitch from kN to n.
	KeySwitch float64
	// DotProduct is the cost of the dot product feeding the TLU (sum size · kN).
	DotProduct float64
	// SumSize is the number of terms of that dot product.
	SumSize int
}

// Total returns DotProduct + KeySwitch + PBS, the complexity of one TLU.
func (c Cost) Total() float64 { return c.DotProduct + c.KeySwitch + c.PBS }

// Cost returns the complexity terms of one TLU with p fed by a dot product of sumSize
// terms (0 means [DefaultSumSize]).
func (p Params) Cost(sumSize int) Cost {
	if sumSize == 0 {
		sumSize = DefaultSumSize
	}
	cm := cmuxComplexity(p.GLWERank(), p.LogPolyDegree(), p.BRLevel())
	return Cost{
		FFT:        fftComplexity(p.LogPolyDegree()),
		CMux:       cm,
		PBS:        float64(p.LWEDimension()) * cm,
		KeySwitch:  keySwitchComplexity(p.GLWEDimension(), p.LWEDimension(), p.KSLevel()),
		DotProduct: dotProductComplexity(sumSize, p.GLWEDimension()),
		SumSize:    sumSize,
	}
}

// PBSComplexity returns the cost of one bootstrap, n · [(k+1)·l_br·(N·log2N + N) +
// (k+1)·(N·log2N + N) + (k+1)²·l_br·N].
func (p Params) PBSComplexity() float64 {
	return float64(p.LWEDimension()) * cmuxComplexity(p.GLWERank(), p.LogPolyDegree(), p.BRLevel())
}

// KeySwitchComplexity returns the cost of one keyswitch from kN to n,
// kN·l_ks + kN·l_ks·(n+1) + (kN·l_ks − 1)·(n+1) + 1.
func (p Params) KeySwitchComplexity() float64 {
	return keySwitchComplexity(p.GLWEDimension(), p.LWEDimension(), p.KSLevel())
}

// DotProductComplexity returns the cost of a dot product of sumSize ciphertexts,
// sumSize·kN.
func (p Params) DotProductComplexity(sumSize int) float64 {
	return dotProductComplexity(sumSize, p.GLWEDimension())
}

// Complexity returns the cost of one TLU (atomic pattern): a dot product of sumSize
// terms (0 means [DefaultSumSize]), a keyswitch and a bootstrap.
func (p Params) Complexity(sumSize int) float64 { return p.Cost(sumSize).Total() }
