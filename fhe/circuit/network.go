package circuit

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/fhetune/fhetune/act"
)

// Layer is one step of a float [Network]: *Linear, *Conv2d, *AvgPool2d, *MaxPool2d,
// ReLU, Activation, Requant or Flatten. The set is closed (the interface has an
// unexported method).
type Layer interface {
	// Kind names the layer type: "linear", "conv2d", "avgpool2d", "maxpool2d", "relu",
	// "flatten", or an Activation's function.
	Kind() string
	isLayer()
}

// Linear is a fully connected layer, y = W·x + B.
type Linear struct {
	Out, In int
	// W holds Out×In weights in row-major order: W[o·In + i] multiplies input i for
	// output o.
	W []float64
	// B holds Out biases.
	B []float64
	// Quant, when not nil, is the weight quantizer a quantization-aware training used;
	// nil means post-training quantization ([QuantizeWeights]).
	Quant *WeightQuant
}

// Conv2d is a 2-D cross-correlation with zero padding on all four sides, dilation D
// and G channel groups over [InC, InH, InW] samples stored channel-major (element
// (c, h, w) at c·InH·InW + h·InW + w):
//
//	y[o][p][q] = B[o] + Σ_{c',i,j} W[o·(InC/G)·KH·KW + c'·KH·KW + i·KW + j] · x[g·InC/G + c'][p·Stride − Pad + i·D][q·Stride − Pad + j·D]
//
// with g = o/(OutC/G) the group of output channel o, c' < InC/G, and x zero outside the
// image; the output is [OutC, OH, OW], OH = (InH + 2·Pad − (D·(KH − 1) + 1))/Stride + 1.
// It mirrors PyTorch's Conv2d (weight [OutC, InC/G, KH, KW] flattened).
type Conv2d struct {
	OutC, InC, KH, KW, Stride, Pad, InH, InW int
	// Dilation is D, ≥ 1; 0 means 1. Groups is G, ≥ 1, dividing InC and OutC; 0 means 1.
	Dilation, Groups int
	// W holds OutC × (InC/G)·KH·KW weights, row-major as above.
	W []float64
	// B holds OutC biases.
	B []float64
	// Quant is as Linear's.
	Quant *WeightQuant
}

// AvgPool2d averages each channel of [C, InH, InW] samples over K×K windows moved by
// Stride, without padding. The circuit computes the window sums (levelled additions) and
// folds 1/K² into the scale of what follows.
type AvgPool2d struct {
	K, Stride, C, InH, InW int
}

// MaxPool2d takes the maximum of each channel of [C, InH, InW] samples over K×K windows
// moved by Stride, without padding. The circuit computes each window's maximum as
// Concrete does, with a chain of K² comparisons max(m, x) = relu(m − x) + x, one TLU
// each; the maxima keep the input's quantizer until the next TLU requantizes them (see
// [Compile]).
type MaxPool2d struct {
	K, Stride, C, InH, InW int
}

// ReLU is max(0, x) element by element; in the circuit it becomes one TLU per element,
// together with the requantization that follows. Out, when not nil, is that
// requantization's quantizer as a quantization-aware training fixed it; nil means one
// fitted to the calibration data.
type ReLU struct{ Out *Quantizer }

// The functions of an [Activation], as its Func (the names of tuner/model's).
const (
	// LeakyReLU is x for x ≥ 0 and Alpha·x otherwise.
	LeakyReLU = act.LeakyReLU
	// Sigmoid is 1/(1 + e^−x).
	Sigmoid = act.Sigmoid
	// Tanh is the hyperbolic tangent.
	Tanh = act.Tanh
	// GELU is x·Φ(x) = x/2·(1 + erf(x/√2)), PyTorch's default (exact) GELU.
	GELU = act.GELU
)

// Activation applies the function Func (LeakyReLU, Sigmoid, Tanh or GELU; Alpha is
// LeakyReLU's negative slope) element by element; like ReLU it becomes one TLU per
// element with the requantization that follows.
type Activation struct {
	Func  string
	Alpha float64
	// Out is as ReLU's.
	Out *Quantizer
}

// Requant requantizes the values to Out: in the circuit an identity TLU per element
// where Compile needs one (after a pooling layer that another levelled operation
// reads), with the quantizer a quantization-aware training fixed; in the float network
// it does nothing.
type Requant struct{ Out Quantizer }

// Flatten marks the switch from images to vectors; samples are stored flat already, so
// it moves no number.
type Flatten struct{}

// Kind returns "linear".
func (*Linear) Kind() string { return "linear" }

// Kind returns "conv2d".
func (*Conv2d) Kind() string { return "conv2d" }

// Kind returns "avgpool2d".
func (*AvgPool2d) Kind() string { return "avgpool2d" }

// Kind returns "maxpool2d".
func (*MaxPool2d) Kind() string { return "maxpool2d" }

// Kind returns "relu".
func (ReLU) Kind() string { return "relu" }

// Kind returns Func.
func (a Activation) Kind() string { return a.Func }

// Kind returns "flatten".
func (Flatten) Kind() string { return "flatten" }

// Kind returns "requant".
func (Requant) Kind() string { return "requant" }

func (*Linear) isLayer()    {}
func (*Conv2d) isLayer()    {}
func (*AvgPool2d) isLayer() {}
func (*MaxPool2d) isLayer() {}
func (ReLU) isLayer()       {}
func (Activation) isLayer() {}
func (Flatten) isLayer()    {}
func (Requant) isLayer()    {}

// geom returns the convolution's geometry, with dilation and groups of at least 1.
func (l *Conv2d) geom() convGeom {
	return convGeom{l.OutC, l.InC, l.KH, l.KW, l.Stride, l.Pad, l.InH, l.InW, max(1, l.Dilation), max(1, l.Groups)}
}

// OutHW returns the output's spatial size.
func (l *Conv2d) OutHW() (oh, ow int) { return l.geom().outHW() }

// OutHW returns the output's spatial size.
func (l *AvgPool2d) OutHW() (oh, ow int) {
	return (l.InH-l.K)/l.Stride + 1, (l.InW-l.K)/l.Stride + 1
}

// OutHW returns the output's spatial size.
func (l *MaxPool2d) OutHW() (oh, ow int) {
	return (l.InH-l.K)/l.Stride + 1, (l.InW-l.K)/l.Stride + 1
}

// Network is a float classifier as the compiler sees it: the size of one (already
// standardized) input sample and the layers; the last layer's outputs are the logits.
type Network struct {
	// InSize is the number of input features of one sample (C·H·W for images).
	InSize int
	// Layers are applied in order.
	Layers []Layer
	// Input, when not nil, is the input quantizer a quantization-aware training fixed;
	// nil means one fitted to the calibration data (n_input_bits).
	Input *Quantizer
}

// sizes checks the layers chain from InSize and returns the flat size after each layer.
func (n *Network) sizes() ([]int, error) {
	if n == nil || n.InSize <= 0 {
		return nil, fmt.Errorf("%w: input size must be positive", ErrNetwork)
	}
	if len(n.Layers) == 0 {
		return nil, fmt.Errorf("%w: no layers", ErrNetwork)
	}
	out := make([]int, len(n.Layers))
	size := n.InSize
	for i, l := range n.Layers {
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%w: layer %d (%s): %s", ErrNetwork, i, l.Kind(), fmt.Sprintf(format, args...))
		}
		switch l := l.(type) {
		case *Linear:
			if l.Out <= 0 || l.In <= 0 {
				return nil, bad("sizes %d×%d must be positive", l.Out, l.In)
			}
			if l.In != size {
				return nil, bad("takes %d inputs, gets %d", l.In, size)
			}
			if len(l.W) != l.Out*l.In || len(l.B) != l.Out {
				return nil, bad("has %d weights and %d biases, wants %d and %d", len(l.W), len(l.B), l.Out*l.In, l.Out)
			}
			if err := finite(l.W, l.B); err != nil {
				return nil, bad("%v", err)
			}
			if err := l.Quant.check(); err != nil {
				return nil, bad("%v", err)
			}
			size = l.Out
		case *Conv2d:
			if l.OutC <= 0 || l.InC <= 0 || l.KH <= 0 || l.KW <= 0 || l.Stride <= 0 || l.Pad < 0 || l.InH <= 0 || l.InW <= 0 {
				return nil, bad("sizes must be positive (padding ≥ 0)")
			}
			if l.Dilation < 0 || l.Groups < 0 {
				return nil, bad("dilation %d and groups %d must be ≥ 1 (0 means 1)", l.Dilation, l.Groups)
			}
			g := l.geom()
			if l.InC%g.Groups != 0 || l.OutC%g.Groups != 0 {
				return nil, bad("%d groups do not divide %d input and %d output channels", g.Groups, l.InC, l.OutC)
			}
			if eh, ew := g.extent(); l.InH+2*l.Pad < eh || l.InW+2*l.Pad < ew {
				return nil, bad("kernel %d×%d (dilated %d×%d) does not fit the padded input", l.KH, l.KW, eh, ew)
			}
			if l.InC*l.InH*l.InW != size {
				return nil, bad("takes [%d %d %d] = %d inputs, gets %d", l.InC, l.InH, l.InW, l.InC*l.InH*l.InW, size)
			}
			if nw := l.OutC * g.groupIn() * l.KH * l.KW; len(l.W) != nw || len(l.B) != l.OutC {
				return nil, bad("has %d weights and %d biases, wants %d and %d", len(l.W), len(l.B), nw, l.OutC)
			}
			if err := finite(l.W, l.B); err != nil {
				return nil, bad("%v", err)
			}
			if err := l.Quant.check(); err != nil {
				return nil, bad("%v", err)
			}
			oh, ow := l.OutHW()
			size = l.OutC * oh * ow
		case *AvgPool2d:
			if l.K <= 0 || l.Stride <= 0 || l.C <= 0 || l.InH < l.K || l.InW < l.K {
				return nil, bad("window %d, stride %d on [%d %d %d]: sizes must be positive and the window fit", l.K, l.Stride, l.C, l.InH, l.InW)
			}
			if l.C*l.InH*l.InW != size {
				return nil, bad("takes [%d %d %d] = %d inputs, gets %d", l.C, l.InH, l.InW, l.C*l.InH*l.InW, size)
			}
			oh, ow := l.OutHW()
			size = l.C * oh * ow
		case *MaxPool2d:
			if l.K <= 0 || l.Stride <= 0 || l.C <= 0 || l.InH < l.K || l.InW < l.K {
				return nil, bad("window %d, stride %d on [%d %d %d]: sizes must be positive and the window fit", l.K, l.Stride, l.C, l.InH, l.InW)
			}
			if l.C*l.InH*l.InW != size {
				return nil, bad("takes [%d %d %d] = %d inputs, gets %d", l.C, l.InH, l.InW, l.C*l.InH*l.InW, size)
			}
			oh, ow := l.OutHW()
			size = l.C * oh * ow
		case Activation:
			if _, err := newActivation(l.Func, l.Alpha); err != nil {
				return nil, bad("%v", err)
			}
			if err := l.Out.check(); err != nil {
				return nil, bad("%v", err)
			}
		case ReLU:
			if err := l.Out.check(); err != nil {
				return nil, bad("%v", err)
			}
		case Requant:
			if err := l.Out.check(); err != nil {
				return nil, bad("%v", err)
			}
		case Flatten:
		case nil:
			return nil, bad("nil layer")
		default:
			return nil, bad("unknown layer type %T", l)
		}
		out[i] = size
	}
	return out, nil
}

// Validate checks that the layers chain from InSize and hold finite weights of the right
// sizes, and that fixed quantizers are usable.
func (n *Network) Validate() error {
	if _, err := n.sizes(); err != nil {
		return err
	}
	if err := n.Input.check(); err != nil {
		return fmt.Errorf("%w: input quantizer: %v", ErrNetwork, err)
	}
	return nil
}

// check reports a fixed quantizer that Compile cannot use (nil is fine).
func (q *Quantizer) check() error {
	switch {
	case q == nil:
		return nil
	case q.Bits < MinBits || q.Bits > MaxBits:
		return fmt.Errorf("quantizer bits %d outside %d..%d", q.Bits, MinBits, MaxBits)
	case !(q.Scale > 0) || math.IsInf(q.Scale, 0):
		return fmt.Errorf("quantizer scale %v must be positive and finite", q.Scale)
	}
	return nil
}

// check reports a weight quantizer that Compile cannot use (nil is fine).
func (wq *WeightQuant) check() error {
	switch {
	case wq == nil:
		return nil
	case wq.Bits < MinBits || wq.Bits > MaxBits:
		return fmt.Errorf("weight quantizer bits %d outside %d..%d", wq.Bits, MinBits, MaxBits)
	case wq.BiasLimit < 0:
		return fmt.Errorf("bias limit %d must be ≥ 0", wq.BiasLimit)
	}
	return nil
}

func finite(vs ...[]float64) error {
	for _, v := range vs {
		for _, x := range v {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return fmt.Errorf("weight or bias %v is not finite", x)
			}
		}
	}
	return nil
}

// Forward runs the float network on a batch of standardized inputs (one row per sample)
// and returns the logits. It reads n and x and is safe for concurrent use; n must be
// valid and x must have InSize columns (it panics otherwise, a programming error).
func (n *Network) Forward(x *mat.Dense) *mat.Dense {
	if _, c := x.Dims(); c != n.InSize {
		panic(fmt.Sprintf("circuit: network takes %d inputs, batch has %d columns", n.InSize, c))
	}
	cur := x
	for _, l := range n.Layers {
		switch l := l.(type) {
		case *Linear:
			w := mat.NewDense(l.Out, l.In, l.W)
			cur = linearForward(cur, w, l.B)
		case *Conv2d:
			g := l.geom()
			cur = convForward(cur, g, mat.NewDense(l.OutC, g.groupIn()*l.KH*l.KW, l.W), l.B, 0)
		case *AvgPool2d:
			g := poolGeom{l.K, l.Stride, l.C, l.InH, l.InW}
			cur = poolForward(cur, g, 1/float64(l.K*l.K))
		case *MaxPool2d:
			cur = maxPoolForward(cur, poolGeom{l.K, l.Stride, l.C, l.InH, l.InW})
		case ReLU:
			cur = actReLU.applyAll(cur)
		case Activation:
			a, _ := newActivation(l.Func, l.Alpha)
			cur = a.applyAll(cur)
		case Flatten, Requant:
		}
	}
	if cur == x {
		cur = mat.DenseCopyOf(x)
	}
	return cur
}

// Accuracy returns the share of rows of the standardized batch x whose arg max logit is
// y's label (ties go to the lower class).
func (n *Network) Accuracy(x *mat.Dense, y []int) (float64, error) {
	if err := checkData(x, y, n.InSize); err != nil {
		return 0, err
	}
	return accuracy(n.Forward(x), y), nil
}

func checkData(x *mat.Dense, y []int, width int) error {
	if x == nil {
		return fmt.Errorf("%w: no samples", ErrData)
	}
	r, c := x.Dims()
	if r == 0 {
		return fmt.Errorf("%w: no samples", ErrData)
	}
	if c != width {
		return fmt.Errorf("%w: samples have %d features, the network takes %d", ErrData, c, width)
	}
	if y != nil && len(y) != r {
		return fmt.Errorf("%w: %d samples but %d labels", ErrData, r, len(y))
	}
	for i := 0; i < r; i++ {
		for j, v := range x.RawRowView(i) {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("%w: sample %d, feature %d is %v", ErrData, i, j, v)
			}
		}
	}
	for i, l := range y {
		if l < 0 {
			return fmt.Errorf("%w: label %d of sample %d is negative", ErrData, l, i)
		}
	}
	return nil
}

// argmax returns the index of the largest value (the first on ties).
func argmax(v []float64) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

func accuracy(logits *mat.Dense, y []int) float64 {
	r, _ := logits.Dims()
	ok := 0
	for i := 0; i < r; i++ {
		if argmax(logits.RawRowView(i)) == y[i] {
			ok++
		}
	}
	return float64(ok) / float64(r)
}
