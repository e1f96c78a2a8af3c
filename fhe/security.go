package fhe

import (
	"fmt"
	"math"
	"slices"
)

// securityCurve is a linear fit of the lattice estimator for one security level:
// log2 σ_min(d) = max(Slope·d + Intercept, 2 − 64) for d ≥ MinDimension, with σ a
// fraction of the torus.
type securityCurve struct {
	Slope, Intercept float64
	MinDimension     int
}

// securityCurves holds the supported levels; add a level by adding its fit here.
// 128 bits: the linear fit that Concrete uses (tools/parameter-curves), binary keys.
var securityCurves = map[int]securityCurve{
	128: {Slope: -0.025696778711484593, Intercept: 2.675931372549016, MinDimension: 450},
}

// DefaultSecurity is the security level in bits used when a query leaves it zero.
const DefaultSecurity = 128

// SecurityLevels returns the supported security levels in bits, in increasing order.
func SecurityLevels() []int {
	out := make([]int, 0, len(securityCurves))
	for l := range securityCurves {
		out = append(out, l)
	}
	slices.Sort(out)
	return out
}

// LogMinStdDev returns log2 of the smallest secure noise standard deviation in modular
// units (σ·2^64 for σ a fraction of the torus) for an LWE dimension d at the given
// security level:
//
//	log2 σ_min(d) = max(slope·d + intercept, 2 − 64) + 64
//
// An error says when the level is unsupported or d is below the fit's range (insecure).
func LogMinStdDev(d, security int) (float64, error) {
	c, ok := securityCurves[security]
	if !ok {
		return 0, fmt.Errorf("%w: %d bits", ErrUnsupportedSecurity, security)
	}
	if d < c.MinDimension {
		return 0, fmt.Errorf("%w: dimension %d below %d at %d bits", ErrInsecure, d, c.MinDimension, security)
	}
	return math.Max(c.Slope*float64(d)+c.Intercept, 2-logQ) + logQ, nil
}

// MinStdDevTorus returns the smallest secure standard deviation as a fraction of the
// torus (what tfhe-go's LWEStdDev and GLWEStdDev take).
func MinStdDevTorus(d, security int) (float64, error) {
	l, err := LogMinStdDev(d, security)
	if err != nil {
		return 0, err
	}
	return math.Exp2(l - logQ), nil
}

// MinVariance returns σ_min² in modular units (q² = 2^128) for dimension d.
func MinVariance(d, security int) (float64, error) {
	l, err := LogMinStdDev(d, security)
	if err != nil {
		return 0, err
	}
	return math.Exp2(2 * l), nil
}
