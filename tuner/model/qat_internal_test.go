package model

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// steSurrogate is a quantization-aware network with its rounding frozen at a base point:
// each quantizer adds to its input the constant offset fq(x₀) − x₀ of the base forward
// pass (or gives fq(x₀) where x₀ was clipped), and each quantized layer uses the
// weights W + (ŵ₀ − W₀) and biases B + (b̂₀ − B₀), the offsets constant. At the base
// point it computes the quantized forward pass; its derivatives are those the
// straight-through estimator defines, without the steps, so finite differences can
// check the training's gradients.
type steSurrogate struct {
	net    *Network
	qoff   map[int]*mat.Dense // per Quant layer: offset, NaN where clipped
	qval   map[int]*mat.Dense // per Quant layer: fq(x₀)
	wOff   map[int]*mat.Dense // per Linear: ŵ₀ − W₀
	bEff   map[int][]float64  // per Linear: b̂₀ − B₀
	x      *mat.Dense
	labels []int
}

func newSTESurrogate(net *Network, x *mat.Dense, labels []int) *steSurrogate {
	s := &steSurrogate{net: net, qoff: map[int]*mat.Dense{}, qval: map[int]*mat.Dense{}, wOff: map[int]*mat.Dense{},
		bEff: map[int][]float64{}, x: x, labels: labels}
	outs := net.Outputs(x)
	h := x
	for i, l := range net.Layers {
		switch l := l.(type) {
		case *Quant:
			qz := l.Quantizer()
			lo, hi := qz.Real(qz.Min()), qz.Real(qz.Max())
			r, c := h.Dims()
			off := mat.NewDense(r, c, nil)
			for a := 0; a < r; a++ {
				for b := 0; b < c; b++ {
					v := h.At(a, b)
					if v < lo || v > hi {
						off.Set(a, b, math.NaN())
					} else {
						off.Set(a, b, outs[i].At(a, b)-v)
					}
				}
			}
			s.qoff[i], s.qval[i] = off, outs[i]
		case *Linear:
			var in *Quant
			for j := i - 1; j >= 0 && in == nil; j-- {
				in, _ = net.Layers[j].(*Quant)
			}
			il := newIntLayer(l.W, l.B, *l.Quant, in.Quantizer(), 0)
			var d mat.Dense
			d.Sub(il.wf, l.W)
			s.wOff[i] = &d
			// b̂₀: what the layer adds to x̂·ŵᵀ, from its base outputs.
			var xw mat.Dense
			xw.Mul(h, il.wf.T())
			o, _ := l.W.Dims()
			be := make([]float64, o)
			for k := range be {
				be[k] = outs[i].At(0, k) - xw.At(0, k) - l.B[k]
			}
			s.bEff[i] = be
		}
		h = outs[i]
	}
	return s
}

// loss returns the mean cross-entropy of the surrogate at the network's current weights.
func (s *steSurrogate) loss() float64 {
	h := s.x
	for i, l := range s.net.Layers {
		switch l := l.(type) {
		case *Quant:
			r, c := h.Dims()
			y := mat.NewDense(r, c, nil)
			for a := 0; a < r; a++ {
				for b := 0; b < c; b++ {
					if off := s.qoff[i].At(a, b); math.IsNaN(off) {
						y.Set(a, b, s.qval[i].At(a, b))
					} else {
						y.Set(a, b, h.At(a, b)+off)
					}
				}
			}
			h = y
		case *Linear:
			var w mat.Dense
			w.Add(l.W, s.wOff[i])
			var y mat.Dense
			y.Mul(h, w.T())
			r, c := y.Dims()
			for a := 0; a < r; a++ {
				for k := 0; k < c; k++ {
					y.Set(a, k, y.At(a, k)+l.B[k]+s.bEff[i][k])
				}
			}
			h = &y
		default:
			h = l.Forward(h)
		}
	}
	r, _ := h.Dims()
	sum := 0.0
	for a := 0; a < r; a++ {
		sum += crossEntropy(h.RawRowView(a), s.labels[a], nil)
	}
	return sum / float64(r)
}

// TestQATStraightThroughGradient checks the training's weight and bias gradients of a
// quantization-aware MLP against central finite differences of the frozen-rounding
// surrogate ([steSurrogate]), with and without power-of-two scaling.
func TestQATStraightThroughGradient(t *testing.T) {
	for _, pot := range []bool{false, true} {
		t.Run(fmt.Sprintf("pot=%t", pot), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, 11))
			l1, l2 := NewLinear(5, 6), NewLinear(3, 5)
			for _, l := range []*Linear{l1, l2} {
				r, c := l.W.Dims()
				l.W = randDense(rng, r, c)
				fillRand(rng, l.B)
			}
			net := &Network{InShape: []int{6}, Classes: 3, Layers: []Layer{l1, ReLU{}, l2}}
			x := randDense(rng, 24, 6)
			labels := make([]int, 24)
			for i := range labels {
				labels[i] = rng.IntN(3)
			}
			q, err := PrepareQAT(net, x, QATConfig{NWBits: 3, NABits: 3, PowerOfTwo: pot})
			if err != nil {
				t.Fatal(err)
			}
			tr := newTrainer(q, TrainConfig{}.withDefaults())
			tr.lossGrad(x, func(i int) int { return labels[i] }) // moves the ranges, then differentiates
			s := newSTESurrogate(q, x, labels)
			outs := q.Outputs(x)
			checked := 0
			for i, st := range tr.states {
				ls, ok := st.(*linearState)
				if !ok {
					continue
				}
				r, c := ls.l.W.Dims()
				for a := 0; a < r; a++ {
					if atKink(outs[i], a) && i+1 < len(q.Layers) {
						continue // a ReLU's kink: not away from the steps
					}
					checked++
					for b := 0; b < c; b++ {
						w0 := ls.l.W.At(a, b)
						const eps = 1e-6
						ls.l.W.Set(a, b, w0+eps)
						up := s.loss()
						ls.l.W.Set(a, b, w0-eps)
						down := s.loss()
						ls.l.W.Set(a, b, w0)
						checkClose(t, fmt.Sprintf("layer %d dW[%d][%d]", i, a, b), ls.dW.At(a, b), (up-down)/(2*eps))
					}
					b0 := ls.l.B[a]
					const eps = 1e-6
					ls.l.B[a] = b0 + eps
					up := s.loss()
					ls.l.B[a] = b0 - eps
					down := s.loss()
					ls.l.B[a] = b0
					checkClose(t, fmt.Sprintf("layer %d dB[%d]", i, a), ls.dB[a], (up-down)/(2*eps))
				}
			}
			if checked < 5 {
				t.Errorf("only %d neurons away from ReLU kinks", checked)
			}
		})
	}
}

// atKink reports whether some sample gives output a of the layer exactly 0, where the
// ReLU after it has its kink (common with integer biases: the accumulator is then an
// integer times the scale).
func atKink(out *mat.Dense, a int) bool {
	r, _ := out.Dims()
	for i := 0; i < r; i++ {
		if out.At(i, a) == 0 {
			return true
		}
	}
	return false
}

// TestAccumulatorPruneBounds checks the pruning count of n_accum_bits and its refusal
// of a width that no weight fits.
func TestAccumulatorPruneBounds(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	l1 := NewLinear(4, 20)
	l1.W = randDense(rng, 4, 20)
	net := &Network{InShape: []int{20}, Classes: 4, Layers: []Layer{l1}}
	x := randDense(rng, 10, 20)
	// 3-bit weights (|w| ≤ 4) times 3-bit inputs (|x| ≤ 7): 28 per weight; 8 bits hold
	// ±127, so 4 weights per neuron.
	q, err := PrepareQAT(net, x, QATConfig{NWBits: 3, NABits: 3, AccumBits: 8})
	if err != nil {
		t.Fatal(err)
	}
	lin := q.Layers[1].(*Linear)
	for o := 0; o < 4; o++ {
		nz := 0
		for _, v := range lin.W.RawRowView(o) {
			if v != 0 {
				nz++
			}
		}
		if nz != 4 {
			t.Errorf("neuron %d keeps %d weights, want 4", o, nz)
		}
	}
	_, err = PrepareQAT(net, x, QATConfig{NWBits: 3, NABits: 3, AccumBits: 5})
	if !errors.Is(err, ErrPrune) {
		t.Errorf("n_accum_bits 5 for 28 per weight: got %v, want ErrPrune", err)
	}
}

// TestPrepareQATInputBits: the Quant layer on the network's input takes n_input_bits and
// every other n_a_bits, also when the network starts with a Flatten (an image data set
// such as digits), where the first Linear is not the first layer.
func TestPrepareQATInputBits(t *testing.T) {
	for _, shape := range [][]int{{8}, {1, 2, 4}} {
		net, err := Build("mlp:6,5", shape, 3, 1)
		if err != nil {
			t.Fatal(err)
		}
		x := mat.NewDense(10, 8, nil)
		for i := 0; i < 10; i++ {
			for j := 0; j < 8; j++ {
				x.Set(i, j, float64(i*j%7))
			}
		}
		q, err := PrepareQAT(net, x, QATConfig{NWBits: 3, NABits: 3, NInputBits: 5})
		if err != nil {
			t.Fatal(err)
		}
		var bits []int
		for _, l := range q.Layers {
			if qq, ok := l.(*Quant); ok {
				bits = append(bits, qq.Bits)
			}
		}
		if len(bits) != 3 || bits[0] != 5 || bits[1] != 3 || bits[2] != 3 {
			t.Errorf("input shape %v: Quant bits %v, want [5 3 3]", shape, bits)
		}
	}
}
