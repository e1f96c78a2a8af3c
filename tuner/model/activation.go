package model

import (
	"math"
	"slices"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/fhetune/fhetune/act"
)

// The functions an [Activation] layer applies, named as its Func (and its Kind); the
// formulas are package act's, which the circuit shares.
const (
	// LeakyReLU is x for x ≥ 0 and Alpha·x otherwise (PyTorch's nn.LeakyReLU, whose
	// negative_slope is Alpha).
	LeakyReLU = act.LeakyReLU
	// Sigmoid is 1/(1 + e^−x).
	Sigmoid = act.Sigmoid
	// Tanh is the hyperbolic tangent.
	Tanh = act.Tanh
	// GELU is x·Φ(x) = x/2·(1 + erf(x/√2)), Φ the standard normal CDF: the exact form,
	// PyTorch's default nn.GELU (approximate='none').
	GELU = act.GELU
)

// activationFuncs lists the supported Func values, for error messages.
var activationFuncs = []string{LeakyReLU, Sigmoid, Tanh, GELU}

// Activation applies a nonlinear function element by element: [LeakyReLU], [Sigmoid],
// [Tanh] or [GELU], named by Func; Alpha is LeakyReLU's negative slope and unused by the
// others. Like [ReLU] it is a plain value with no trainable parameters, and an integer
// circuit turns it into one table lookup per element.
type Activation struct {
	Func  string
	Alpha float64
}

// Kind returns Func.
func (a Activation) Kind() string { return a.Func }

// NumParams returns 0.
func (Activation) NumParams() int { return 0 }

// OutShape returns in.
func (Activation) OutShape(in []int) ([]int, error) { return slices.Clone(in), nil }

// Forward returns the function of every element of x.
func (a Activation) Forward(x *mat.Dense) *mat.Dense { return a.apply(x, false) }

// value returns the function at v (check refuses unknown functions).
func (a Activation) value(v float64) float64 { return act.Value(a.Func, a.Alpha, v) }

// derivative returns the function's derivative at v (LeakyReLU's is 1 at 0).
func (a Activation) derivative(v float64) float64 {
	switch a.Func {
	case LeakyReLU:
		if v >= 0 {
			return 1
		}
		return a.Alpha
	case Sigmoid:
		s := a.value(v)
		return s * (1 - s)
	case Tanh:
		t := math.Tanh(v)
		return 1 - t*t
	case GELU:
		// d/dx x·Φ(x) = Φ(x) + x·φ(x).
		return 0.5*(1+math.Erf(v/math.Sqrt2)) + v*math.Exp(-0.5*v*v)/math.Sqrt(2*math.Pi)
	}
	panic("model: unknown activation " + a.Func)
}

func (a Activation) apply(x *mat.Dense, owned bool) *mat.Dense {
	out := x
	if !owned {
		n, c := x.Dims()
		out = mat.NewDense(n, c, nil)
	}
	a.fill(out, x)
	return out
}

// fill writes the function of x into dst (same shape; dst may be x).
func (a Activation) fill(dst, x *mat.Dense) {
	n, _ := x.Dims()
	for i := 0; i < n; i++ {
		src, d := x.RawRowView(i), dst.RawRowView(i)
		for j, v := range src {
			d[j] = a.value(v)
		}
	}
}

func (a Activation) clone() Layer { return a }

func (a Activation) check() error {
	if !slices.Contains(activationFuncs, a.Func) {
		return shapeErr("activation function %q is not supported (want one of %s)", a.Func, strings.Join(activationFuncs, ", "))
	}
	if !finite(a.Alpha) {
		return shapeErr("activation %s: alpha %v is not finite", a.Func, a.Alpha)
	}
	return nil
}

// activationState keeps the input of the last forward call (not owned: the layer before
// does not touch it until the backward pass is over).
type activationState struct {
	a         Activation
	x, out, d *mat.Dense
}

func (a Activation) newState() layerState { return &activationState{a: a} }

func (s *activationState) forward(x *mat.Dense) *mat.Dense {
	n, c := x.Dims()
	s.x = x
	s.out = reuse(s.out, n, c)
	s.a.fill(s.out, x)
	return s.out
}

func (s *activationState) backward(dy *mat.Dense, needInput bool) *mat.Dense {
	if !needInput {
		return nil
	}
	n, c := dy.Dims()
	s.d = reuse(s.d, n, c)
	for i := 0; i < n; i++ {
		g, x, d := dy.RawRowView(i), s.x.RawRowView(i), s.d.RawRowView(i)
		for j, v := range g {
			d[j] = v * s.a.derivative(x[j])
		}
	}
	return s.d
}

func (s *activationState) params() []param { return nil }
