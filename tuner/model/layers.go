package model

import (
	"fmt"
	"slices"

	"gonum.org/v1/gonum/mat"

	"github.com/fhetune/fhetune/fhe/circuit"
)

// Linear is a fully connected layer: y = x·Wᵀ + B for each sample x.
type Linear struct {
	// W holds the weights, out×in: W[o][i] multiplies input i for output o.
	W *mat.Dense
	// B holds one bias per output.
	B []float64
	// Mask, when not nil, has one entry per weight in row-major order (index o·in + i);
	// false pins that weight at zero during training. Nil means every weight is free.
	Mask []bool
	// Quant, when not nil, quantizes the weights (and the bias) in the forward pass as
	// the compiled circuit does: a quantization-aware layer (see [PrepareQAT]).
	Quant *circuit.WeightQuant
}

// NewLinear returns a Linear layer with zero weights and biases.
func NewLinear(out, in int) *Linear {
	return &Linear{W: mat.NewDense(out, in, nil), B: make([]float64, out)}
}

// Kind returns "linear".
func (l *Linear) Kind() string { return "linear" }

// Dims returns the number of outputs and inputs.
func (l *Linear) Dims() (out, in int) { return l.W.Dims() }

// NumParams returns out·in + out.
func (l *Linear) NumParams() int {
	o, i := l.W.Dims()
	return o*i + o
}

// OutShape takes a flat input [in] and returns [out].
func (l *Linear) OutShape(in []int) ([]int, error) {
	o, i := l.W.Dims()
	if len(in) != 1 {
		return nil, shapeErr("linear layer takes a flat input, got shape %v (add a flatten layer)", in)
	}
	if in[0] != i {
		return nil, shapeErr("linear layer takes %d inputs, got %d", i, in[0])
	}
	return []int{o}, nil
}

// Forward returns x·Wᵀ + B.
func (l *Linear) Forward(x *mat.Dense) *mat.Dense { return l.apply(x, false) }

func (l *Linear) apply(x *mat.Dense, _ bool) *mat.Dense {
	n, c := x.Dims()
	o, i := l.W.Dims()
	if c != i {
		panic(fmt.Sprintf("model: linear layer takes %d inputs, batch has %d columns", i, c))
	}
	out := mat.NewDense(n, o, nil)
	fillRows(out, l.B)
	gemm(false, true, 1, x, l.W, 1, out)
	return out
}

func (l *Linear) clone() Layer {
	return &Linear{W: mat.DenseCopyOf(l.W), B: slices.Clone(l.B), Mask: slices.Clone(l.Mask), Quant: l.Quant.Clone()}
}

func (l *Linear) check() error {
	if l.W == nil {
		return shapeErr("no weight matrix")
	}
	o, i := l.W.Dims()
	return checkParams(l.W, l.B, l.Mask, o, o*i)
}

// checkParams verifies bias and mask lengths and that all values are finite and that
// masked weights are zero.
func checkParams(w *mat.Dense, b []float64, mask []bool, nb, nw int) error {
	if len(b) != nb {
		return shapeErr("%d biases for %d outputs", len(b), nb)
	}
	if mask != nil && len(mask) != nw {
		return shapeErr("mask has %d entries for %d weights", len(mask), nw)
	}
	r, _ := w.Dims()
	k := 0
	for i := 0; i < r; i++ {
		for j, v := range w.RawRowView(i) {
			if !finite(v) {
				return shapeErr("weight (%d, %d) is %v", i, j, v)
			}
			if mask != nil && !mask[k] && v != 0 {
				return shapeErr("weight (%d, %d) is masked but not zero", i, j)
			}
			k++
		}
	}
	for i, v := range b {
		if !finite(v) {
			return shapeErr("bias %d is %v", i, v)
		}
	}
	return nil
}

// linearState is the training state of a Linear layer.
type linearState struct {
	l      *Linear
	x      *mat.Dense // input of the last forward call (not owned)
	out    *mat.Dense
	dx     *mat.Dense
	dW     *mat.Dense
	dB     []float64
	wView  []float64
	dWView []float64
	// in is the quantizer of the input (set before each forward), il the integer form
	// of the last forward of a quantized layer, and scale its weights' scale, searched
	// every scaleEvery steps.
	in    *circuit.Quantizer
	il    *intLayer
	scale trainScale
}

// trainScale is a quantized layer's weight scale during training, searched again every
// scaleEvery steps.
type trainScale struct {
	scale float64
	steps int
}

// next returns the scale of this step for weights w.
func (t *trainScale) next(w *mat.Dense, wq circuit.WeightQuant) float64 {
	if t.steps%scaleEvery == 0 {
		t.scale = circuit.QATWeightScale(denseData(w), wq)
	}
	t.steps++
	return t.scale
}

func (l *Linear) newState() layerState {
	o, i := l.W.Dims()
	dW := mat.NewDense(o, i, nil)
	return &linearState{l: l, dW: dW, dB: make([]float64, o), wView: denseData(l.W), dWView: denseData(dW)}
}

func (s *linearState) setInput(in *circuit.Quantizer) { s.in = in }

func (s *linearState) forward(x *mat.Dense) *mat.Dense {
	n, _ := x.Dims()
	o, _ := s.l.W.Dims()
	s.x = x
	if s.l.Quant != nil {
		s.il = newIntLayer(s.l.W, s.l.B, *s.l.Quant, *s.in, s.scale.next(s.l.W, *s.l.Quant))
		s.out = s.l.applyInt(x, s.il)
		return s.out
	}
	s.out = reuse(s.out, n, o)
	fillRows(s.out, s.l.B)
	gemm(false, true, 1, x, s.l.W, 1, s.out)
	return s.out
}

func (s *linearState) backward(dy *mat.Dense, needInput bool) *mat.Dense {
	gemm(true, false, 1, dy, s.x, 0, s.dW)
	clear(s.dB)
	addColSums(s.dB, dy)
	if !needInput {
		return nil
	}
	n, _ := dy.Dims()
	_, i := s.l.W.Dims()
	s.dx = reuse(s.dx, n, i)
	w := s.l.W
	if s.l.Quant != nil {
		w = s.il.wf // straight through the weights' rounding
	}
	gemm(false, false, 1, dy, w, 0, s.dx)
	return s.dx
}

func (s *linearState) params() []param {
	return []param{{val: s.wView, grad: s.dWView, mask: s.l.Mask, weight: true}, {val: s.l.B, grad: s.dB}}
}

// ReLU applies max(0, v) to every element.
type ReLU struct{}

// Kind returns "relu".
func (ReLU) Kind() string { return "relu" }

// NumParams returns 0.
func (ReLU) NumParams() int { return 0 }

// OutShape returns in.
func (ReLU) OutShape(in []int) ([]int, error) { return slices.Clone(in), nil }

// Forward returns max(0, x) element by element.
func (r ReLU) Forward(x *mat.Dense) *mat.Dense { return r.apply(x, false) }

func (ReLU) apply(x *mat.Dense, owned bool) *mat.Dense {
	out := x
	if !owned {
		n, c := x.Dims()
		out = mat.NewDense(n, c, nil)
	}
	relu(out, x)
	return out
}

func relu(dst, x *mat.Dense) {
	n, _ := x.Dims()
	for i := 0; i < n; i++ {
		src, d := x.RawRowView(i), dst.RawRowView(i)
		for j, v := range src {
			d[j] = max(v, 0)
		}
	}
}

func (ReLU) clone() Layer { return ReLU{} }
func (ReLU) check() error { return nil }

type reluState struct{ out, dx *mat.Dense }

func (ReLU) newState() layerState { return &reluState{} }

func (s *reluState) forward(x *mat.Dense) *mat.Dense {
	n, c := x.Dims()
	s.out = reuse(s.out, n, c)
	relu(s.out, x)
	return s.out
}

func (s *reluState) backward(dy *mat.Dense, needInput bool) *mat.Dense {
	if !needInput {
		return nil
	}
	n, c := dy.Dims()
	s.dx = reuse(s.dx, n, c)
	for i := 0; i < n; i++ {
		g, y, d := dy.RawRowView(i), s.out.RawRowView(i), s.dx.RawRowView(i)
		for j, v := range g {
			if y[j] > 0 {
				d[j] = v
			} else {
				d[j] = 0
			}
		}
	}
	return s.dx
}

func (s *reluState) params() []param { return nil }

// Flatten turns a [C, H, W] sample into a flat [C·H·W] one. Samples are stored flat in
// channel-major order already, so it moves no number; it marks where a network switches
// from images to vectors.
type Flatten struct{}

// Kind returns "flatten".
func (Flatten) Kind() string { return "flatten" }

// NumParams returns 0.
func (Flatten) NumParams() int { return 0 }

// OutShape returns [product of in].
func (Flatten) OutShape(in []int) ([]int, error) { return []int{prod(in)}, nil }

// Forward returns x itself (not a copy).
func (Flatten) Forward(x *mat.Dense) *mat.Dense { return x }

func (Flatten) apply(x *mat.Dense, _ bool) *mat.Dense { return x }
func (Flatten) clone() Layer                          { return Flatten{} }
func (Flatten) check() error                          { return nil }
func (Flatten) newState() layerState                  { return flattenState{} }

type flattenState struct{}

func (flattenState) forward(x *mat.Dense) *mat.Dense { return x }
func (flattenState) backward(dy *mat.Dense, needInput bool) *mat.Dense {
	if !needInput {
		return nil
	}
	return dy
}
func (flattenState) params() []param { return nil }
