package fhe

import (
	"fmt"
	"math"
)

// Noise model of the atomic pattern dot product → keyswitch → bootstrap, after Concrete's
// public CPU noise model (backends/concrete-cpu/noise-model; eprint 2022/704, section 3).
// All variances here are in modular units: a torus variance V is V·2^128.

const (
	// binaryKeyVariance is the variance of a uniform binary key coefficient, 1/4, in
	// modular units (Concrete's 2^−130 on the torus times 2^128).
	binaryKeyVariance = 0.25
	// binaryKeySquare is the squared expectation of a binary key coefficient, (1/2)².
	binaryKeySquare = 0.25
	// fftScalingWeight is log2 of the empirical factor of the float64 FFT error of one
	// external product (Concrete's FFT_SCALING_WEIGHT).
	fftScalingWeight = -2.57722494
	// fftMantissaBits is the float64 mantissa width the FFT computes with.
	fftMantissaBits = 53
)

// pow2 returns 2^e exactly for integer e.
func pow2(e int) float64 { return math.Ldexp(1, e) }

// externalProductVariance is the variance one external product (one CMux of the blind
// rotation) adds, without the FFT error, in modular units:
//
//	l(k+1)N(B²+2)/12 · V_bsk + (q² − B^2l)/(24·B^2l) · (1 + kN(v_k + s_k)) + kN/8 · v_k + (1 − kN)²/16 · s_k
//
// with B = 2^logBase, l = level, v_k = s_k = 1/4 (binary key) and q = 2^64.
func externalProductVariance(k, logN, level, logBase int, vBSK float64) float64 {
	kf, lf := float64(k), float64(level)
	n := pow2(logN)
	kn := kf * n
	b2 := pow2(2 * logBase)
	b2l := pow2(2 * logBase * level)
	res1 := lf * (kf + 1) * n * (b2 + 2) / 12 * vBSK
	res2 := (pow2(2*logQ)-b2l)/(24*b2l)*(1+kn*(binaryKeyVariance+binaryKeySquare)) +
		kn/8*binaryKeyVariance + (1-kn)*(1-kn)/16*binaryKeySquare
	return res1 + res2
}

// fftVariance is the error that the float64 FFT adds to one external product, in
// modular units: 2^−2.57722494 · 2^(2·(64−53)) · l · B² · N² · (k+1).
func fftVariance(k, logN, level, logBase int) float64 {
	return math.Exp2(fftScalingWeight) * pow2(2*(logQ-fftMantissaBits)) *
		float64(level) * pow2(2*logBase) * pow2(2*logN) * float64(k+1)
}

// cmuxVariance is one CMux of the blind rotation: the external product plus its FFT error.
func cmuxVariance(k, logN, level, logBase int, vBSK float64) float64 {
	return externalProductVariance(k, logN, level, logBase, vBSK) + fftVariance(k, logN, level, logBase)
}

// keySwitchVariancePerCoefficient is the variance that keyswitching one input key
// coefficient adds, in modular units:
//
//	(q²/(12·B^2l) − 1/12)·(v_k + s_k) + v_k/4 + l·V_ksk·(B²+2)/12
//
// The keyswitch from dimension kN adds kN times this.
func keySwitchVariancePerCoefficient(level, logBase int, vKSK float64) float64 {
	return keySwitchDecompositionTerm(level, logBase) + keySwitchKeyTerm(level, pow2(2*logBase)+2, vKSK)
}

// keySwitchDecompositionTerm is the part of the keyswitch variance per coefficient that
// does not depend on the key: (q²/(12·B^2l) − 1/12)·(v_k + s_k) + v_k/4.
func keySwitchDecompositionTerm(level, logBase int) float64 {
	b2l := pow2(2 * logBase * level)
	return (pow2(2*logQ)/(12*b2l)-1.0/12)*(binaryKeyVariance+binaryKeySquare) + binaryKeyVariance/4
}

// keySwitchKeyTerm is the key-noise part l·V_ksk·(B²+2)/12, with b2p2 = B²+2.
func keySwitchKeyTerm(level int, b2p2, vKSK float64) float64 {
	return float64(level) * vKSK * b2p2 / 12
}

// modulusSwitchVariance is the variance of the modulus switch from q to 2N before the
// blind rotation, in modular units, with w = 2N = 2^(log2N+1):
//
//	(1/12 + n/24) · q²/w² + (−1/12 + n/48)
func modulusSwitchVariance(n, logN int) float64 {
	return modulusSwitchVarianceScaled(n, modulusSwitchScale(logN))
}

// modulusSwitchScale is q²/w² = 2^(128 − 2·(log2N+1)).
func modulusSwitchScale(logN int) float64 { return pow2(2*logQ - 2*(logN+1)) }

// modulusSwitchVarianceScaled is modulusSwitchVariance with q²/w² given.
func modulusSwitchVarianceScaled(n int, scale float64) float64 {
	nf := float64(n)
	return (1.0/12+nf/24)*scale + (-1.0/12 + nf/48)
}

// decodingVariance combines the terms into the variance at the next decoding,
// f·(n·V_cmux) + kN·V_ks1 + V_ms. nCMux is n·V_cmux, ks is kN·V_ks1 and f = norm2².
// Params methods and the optimizer both call it, so they agree to the last bit.
func decodingVariance(f, nCMux, ks, ms float64) float64 {
	return f*nCMux + ks + ms
}

// Noise holds the variance terms of one parameter set at one security level, in
// modular units (q² = 2^128). Make it with [Params.Noise].
type Noise struct {
	// BSKVariance and KSKVariance are the key noise variances: σ_min² at dimension k·N
	// (bootstrapping key, GLWE) and n (keyswitching key, LWE).
	BSKVariance, KSKVariance float64
	// ExternalProduct is the variance one CMux adds without its FFT error.
	ExternalProduct float64
	// FFT is the FFT error of one CMux.
	FFT float64
	// CMux is ExternalProduct + FFT, the variance one CMux adds.
	CMux float64
	// BlindRotation is n·CMux, the variance at the output of the bootstrap.
	BlindRotation float64
	// KeySwitchPerCoefficient is the variance keyswitching one input coefficient adds.
	KeySwitchPerCoefficient float64
	// KeySwitch is kN·KeySwitchPerCoefficient, the variance of the keyswitch.
	KeySwitch float64
	// ModulusSwitch is the variance of the modulus switch to 2N.
	ModulusSwitch float64
}

// AtDecoding returns the variance at the next decoding after a dot product of 2-norm
// 2^log2Norm2 on bootstrapped ciphertexts (modular units):
//
//	norm2² · V_BR + V_KS + V_MS, norm2² = 2^(2·log2Norm2)
func (z Noise) AtDecoding(log2Norm2 float64) float64 {
	return decodingVariance(norm2Squared(log2Norm2), z.BlindRotation, z.KeySwitch, z.ModulusSwitch)
}

// norm2Squared returns the variance factor 2^(2·log2Norm2).
func norm2Squared(log2Norm2 float64) float64 { return math.Exp2(2 * log2Norm2) }

// Noise returns every variance term of p at the given security level (bits). An error
// says when the level is unsupported or a key dimension (k·N or n) is too small to be
// secure.
func (p Params) Noise(security int) (Noise, error) {
	vBSK, err := MinVariance(p.GLWEDimension(), security)
	if err != nil {
		return Noise{}, fmt.Errorf("fhe: noise of %v: bootstrapping key: %w", p, err)
	}
	vKSK, err := MinVariance(p.LWEDimension(), security)
	if err != nil {
		return Noise{}, fmt.Errorf("fhe: noise of %v: keyswitching key: %w", p, err)
	}
	k, logN := p.GLWERank(), p.LogPolyDegree()
	z := Noise{
		BSKVariance:     vBSK,
		KSKVariance:     vKSK,
		ExternalProduct: externalProductVariance(k, logN, p.BRLevel(), p.BRLogBase(), vBSK),
		FFT:             fftVariance(k, logN, p.BRLevel(), p.BRLogBase()),
		CMux:            cmuxVariance(k, logN, p.BRLevel(), p.BRLogBase(), vBSK),
		KeySwitchPerCoefficient: keySwitchVariancePerCoefficient(
			p.KSLevel(), p.KSLogBase(), vKSK),
		ModulusSwitch: modulusSwitchVariance(p.LWEDimension(), logN),
	}
	z.BlindRotation = float64(p.LWEDimension()) * z.CMux
	z.KeySwitch = float64(p.GLWEDimension()) * z.KeySwitchPerCoefficient
	return z, nil
}

// BlindRotationVariance returns n·V_cmux, the variance of a bootstrapped ciphertext
// (modular units), V_cmux being the external product variance
//
//	l(k+1)N(B²+2)/12 · V_bsk + (q² − B^2l)/(24·B^2l) · (1 + kN/2) + kN/32 + (1 − kN)²/64
//
// plus its FFT error 2^−2.57722494 · 2^22 · l · B² · N² · (k+1) (eprint 2022/704).
func (p Params) BlindRotationVariance(security int) (float64, error) {
	z, err := p.Noise(security)
	return z.BlindRotation, err
}

// KeySwitchVariance returns the variance the keyswitch from dimension kN to n adds
// (modular units):
//
//	kN · [ (q²/(12·B^2l) − 1/12)/2 + 1/16 + l·V_ksk·(B²+2)/12 ]
func (p Params) KeySwitchVariance(security int) (float64, error) {
	z, err := p.Noise(security)
	return z.KeySwitch, err
}

// ModulusSwitchVariance returns the variance of the modulus switch to 2N (modular
// units): (1/12 + n/24)·q²/(2N)² + (−1/12 + n/48).
func (p Params) ModulusSwitchVariance() float64 {
	return modulusSwitchVariance(p.LWEDimension(), p.LogPolyDegree())
}

// DecodingVariance returns the variance at the decoding that follows a dot product of
// 2-norm 2^log2Norm2 on ciphertexts bootstrapped with p, then a keyswitch and a modulus
// switch (modular units): norm2²·V_BR + V_KS + V_MS.
func (p Params) DecodingVariance(log2Norm2 float64, security int) (float64, error) {
	z, err := p.Noise(security)
	if err != nil {
		return 0, err
	}
	return z.AtDecoding(log2Norm2), nil
}
