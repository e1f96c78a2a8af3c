package fhe

import (
	"fmt"
	"math"
)

// Correctness of a TLU: a p-bit message sits between one padding bit on each side, so it
// decodes wrongly when the noise exceeds 2^(64−p−2) in modular units. With Gaussian noise
// of standard deviation σ the error probability is erfc(2^(64−p−2)/(σ√2)).

const (
	// MinPrecision and MaxPrecision bound the TLU input bit-width the package handles.
	MinPrecision = 1
	MaxPrecision = 16
	// paddingBits is the padding on each side of the message (left for the PBS
	// negacyclicity, right for rounding).
	paddingBits = 2
	// ReferencePError is the p_error of Concrete's reference tables, 1 − 0.999936657516
	// (a 4σ bound), about 6.334e−5.
	ReferencePError = 1 - 0.999936657516
	// DefaultPError is Concrete ML's default per-TLU p_error, 2^−40.
	DefaultPError = 1.0 / (1 << 40)
)

// Kappa returns the number of standard deviations κ within which a Gaussian stays with
// probability 1 − pError: κ = √2 · erfc⁻¹(pError). pError must be in (0, 1); the result
// keeps full relative precision down to pError ≈ 1e−300.
func Kappa(pError float64) float64 {
	return math.Sqrt2 * erfcinv(pError)
}

// erfcinv returns x with erfc(x) = p for p in (0, 2). The standard library computes
// erfinv(1 − p), which loses the digits of small p (for p = 1e−12 about four of them,
// and everything below 1e−17); here Newton's method on log erfc refines that estimate,
// or an asymptotic one for small p, to full precision.
func erfcinv(p float64) float64 {
	if !(p > 0 && p < 2) {
		return math.NaN()
	}
	var x float64
	if p > 1e-8 {
		x = math.Erfcinv(p)
	} else {
		// erfc(x) ≈ exp(−x²)/(x√π): x² ≈ −ln p − ln(x√π), one fixed-point step.
		l := -math.Log(p)
		x = math.Sqrt(l - math.Log(math.Sqrt(l*math.Pi)))
	}
	lp := math.Log(p)
	for range 50 {
		e := math.Erfc(x)
		if e == 0 {
			break
		}
		// d/dx ln erfc(x) = −(2/√π)·exp(−x²)/erfc(x)
		slope := 2 / math.SqrtPi * math.Exp(-x*x) / e
		step := (math.Log(e) - lp) / slope
		x += step
		if math.Abs(step) <= 1e-16*math.Abs(x) {
			break
		}
	}
	return x
}

// PErrorOfKappa is the inverse of [Kappa]: the probability that a Gaussian falls
// outside ±κσ, erfc(κ/√2).
func PErrorOfKappa(kappa float64) float64 {
	return math.Erfc(kappa / math.Sqrt2)
}

// noiseLimit returns 2^(64−p−2), the modular noise amplitude at which a p-bit message
// decodes wrongly.
func noiseLimit(precision int) float64 { return pow2(logQ - precision - paddingBits) }

// VarianceBound returns the largest variance at decoding (modular units) that keeps a
// p-bit TLU's error probability at most pError: (2^(64−p−2)/κ)², κ = [Kappa](pError).
// Precision 0, a bit extraction reading the padding bit ([Decoding]), gives (2^62/κ)².
func VarianceBound(precision int, pError float64) float64 {
	s := noiseLimit(precision) / Kappa(pError)
	return s * s
}

// PErrorOfVariance returns the probability that a p-bit TLU input with Gaussian noise
// of the given modular variance decodes wrongly: erfc(2^(64−p−2)/(σ·√2)), σ = √variance.
// Precision 0 is allowed, as in [VarianceBound].
func PErrorOfVariance(precision int, variance float64) float64 {
	return PErrorOfKappa(noiseLimit(precision) / math.Sqrt(variance))
}

// PError returns the actual error probability of one TLU of the given precision fed by
// a dot product of 2-norm 2^log2Norm2 on ciphertexts bootstrapped with p.
func (p Params) PError(precision int, log2Norm2 float64, security int) (float64, error) {
	v, err := p.DecodingVariance(log2Norm2, security)
	if err != nil {
		return 0, err
	}
	return PErrorOfVariance(precision, v), nil
}

// GlobalPError returns the probability that at least one of count independent TLUs with
// error probability pError fails: 1 − (1 − pError)^count, computed without cancellation.
func GlobalPError(pError float64, count int) float64 {
	if count <= 0 {
		return 0
	}
	return -math.Expm1(float64(count) * math.Log1p(-pError))
}

// PErrorPerTLU returns the per-TLU error probability p such that count TLUs fail
// together with probability globalPError: p = 1 − (1 − globalPError)^(1/count), the
// inverse of [GlobalPError]. This is how Concrete ML turns global_p_error into one
// target for every TLU.
func PErrorPerTLU(globalPError float64, count int) float64 {
	if count <= 1 {
		return globalPError
	}
	return -math.Expm1(math.Log1p(-globalPError) / float64(count))
}

// CheckPrecision returns an error wrapping [ErrInvalidQuery] when precision is outside
// [MinPrecision, MaxPrecision].
func CheckPrecision(precision int) error {
	if precision < MinPrecision || precision > MaxPrecision {
		return fmt.Errorf("%w: precision %d outside %d..%d bits", ErrInvalidQuery, precision, MinPrecision, MaxPrecision)
	}
	return nil
}

// CheckPError returns an error wrapping [ErrInvalidQuery] when pError is not strictly
// between 0 and 1.
func CheckPError(name string, pError float64) error {
	if !(pError > 0 && pError < 1) {
		return fmt.Errorf("%w: %s %g outside (0, 1)", ErrInvalidQuery, name, pError)
	}
	return nil
}

// CheckSecurity returns an error wrapping [ErrUnsupportedSecurity] when no security
// curve exists for the level.
func CheckSecurity(security int) error {
	if _, ok := securityCurves[security]; !ok {
		return fmt.Errorf("%w: %d bits (supported: %v)", ErrUnsupportedSecurity, security, SecurityLevels())
	}
	return nil
}

// NoiseStdDevInSteps returns the standard deviation of the noise at decoding in units of
// one message step Δ = 2^(64−p−1): √variance / Δ. A TLU input x is then read as
// x + round(e) with e drawn from N(0, σ²) in these units (wrapping modulo 2^p), which is
// how a simulation injects the errors of a set.
func NoiseStdDevInSteps(precision int, variance float64) float64 {
	return math.Sqrt(variance) / pow2(logQ-precision-1)
}
