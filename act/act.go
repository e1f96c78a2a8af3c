// Package act holds the one copy of the element-wise activation functions that
// tuner/model (the float network) and fhe/circuit (whose TLU tables apply them to
// dequantized accumulators) share, so that a network and its circuit compute the same
// function. It imports only the standard library.
package act

import "math"

// Names of the functions, as layers' Kind and the model file format spell them.
const (
	// ReLU is max(0, x).
	ReLU = "relu"
	// LeakyReLU is x for x ≥ 0 and alpha·x otherwise (PyTorch's nn.LeakyReLU).
	LeakyReLU = "leaky_relu"
	// Sigmoid is 1/(1 + e^−x).
	Sigmoid = "sigmoid"
	// Tanh is the hyperbolic tangent.
	Tanh = "tanh"
	// GELU is x·Φ(x) = x/2·(1 + erf(x/√2)), PyTorch's default (exact) nn.GELU.
	GELU = "gelu"
)

// Value returns function fn at x (alpha is LeakyReLU's slope). An unknown fn returns x.
func Value(fn string, alpha, x float64) float64 {
	switch fn {
	case ReLU:
		return max(x, 0)
	case LeakyReLU:
		if x >= 0 {
			return x
		}
		return alpha * x
	case Sigmoid:
		// The two forms avoid overflowing e^−x for large negative x.
		if x >= 0 {
			return 1 / (1 + math.Exp(-x))
		}
		e := math.Exp(x)
		return e / (1 + e)
	case Tanh:
		return math.Tanh(x)
	case GELU:
		return 0.5 * x * (1 + math.Erf(x/math.Sqrt2))
	}
	return x
}
