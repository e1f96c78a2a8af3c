package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// randDense returns an r×c matrix of U(−1, 1) values, nudged away from 0 so that ReLU's
// kink is never within a finite-difference step.
func randDense(rng *rand.Rand, r, c int) *mat.Dense {
	m := mat.NewDense(r, c, nil)
	for i := 0; i < r; i++ {
		row := m.RawRowView(i)
		for j := range row {
			v := 2*rng.Float64() - 1
			if math.Abs(v) < 0.05 {
				v += math.Copysign(0.1, v)
			}
			row[j] = v
		}
	}
	return m
}

func fillRand(rng *rand.Rand, s []float64) {
	for i := range s {
		s[i] = 2*rng.Float64() - 1
	}
}

// dot returns Σ a⊙b.
func dot(a, b *mat.Dense) float64 {
	r, _ := a.Dims()
	s := 0.0
	for i := 0; i < r; i++ {
		br := b.RawRowView(i)
		for j, v := range a.RawRowView(i) {
			s += v * br[j]
		}
	}
	return s
}

// checkClose fails when analytic and numeric derivatives differ beyond tolerance.
func checkClose(t *testing.T, what string, analytic, numeric float64) {
	t.Helper()
	if d := math.Abs(analytic - numeric); d > 1e-6*max(1, math.Abs(numeric)) {
		t.Errorf("%s: analytic %.10g, finite difference %.10g", what, analytic, numeric)
	}
}

// TestLayerGradients checks every layer type's backward pass against central finite
// differences of L = Σ Forward(x) ⊙ R, for the input and for each parameter.
func TestLayerGradients(t *testing.T) {
	linMasked := NewLinear(4, 6)
	linMasked.Mask = make([]bool, 24)
	for i := range linMasked.Mask {
		linMasked.Mask[i] = i%3 != 0
	}
	cases := []struct {
		name  string
		layer Layer
		in    int
	}{
		{"linear", NewLinear(5, 7), 7},
		{"linear masked", linMasked, 6},
		{"conv k3 s1 p1", NewConv2d(3, 2, 3, 3, 1, 1, 5, 5), 2 * 5 * 5},
		{"conv k3 s2 p0", NewConv2d(2, 3, 3, 3, 2, 0, 7, 6), 3 * 7 * 6},
		{"conv k2x3 s2 p1", NewConv2d(4, 1, 2, 3, 2, 1, 5, 6), 1 * 5 * 6},
		{"avgpool k2 s2", &AvgPool2d{K: 2, Stride: 2, C: 2, InH: 4, InW: 5}, 2 * 4 * 5},
		{"avgpool k3 s1", &AvgPool2d{K: 3, Stride: 1, C: 3, InH: 5, InW: 4}, 3 * 5 * 4},
		{"relu", ReLU{}, 9},
		{"flatten", Flatten{}, 12},
		{"conv dilation 2", &Conv2d{OutC: 3, InC: 2, KH: 3, KW: 2, Stride: 1, Pad: 1, InH: 7, InW: 6, Dilation: 2,
			W: mat.NewDense(3, 2*3*2, nil), B: make([]float64, 3)}, 2 * 7 * 6},
		{"conv groups 2", &Conv2d{OutC: 4, InC: 6, KH: 3, KW: 3, Stride: 2, Pad: 1, InH: 5, InW: 6, Groups: 2,
			W: mat.NewDense(4, 3*3*3, nil), B: make([]float64, 4)}, 6 * 5 * 6},
		{"conv groups 2 dilation 2 pad 2", &Conv2d{OutC: 2, InC: 4, KH: 2, KW: 3, Stride: 2, Pad: 2, InH: 6, InW: 7, Dilation: 2, Groups: 2,
			W: mat.NewDense(2, 2*2*3, nil), B: make([]float64, 2)}, 4 * 6 * 7},
		{"conv depthwise", &Conv2d{OutC: 3, InC: 3, KH: 3, KW: 3, Stride: 1, Pad: 1, InH: 4, InW: 4, Groups: 3,
			W: mat.NewDense(3, 9, nil), B: make([]float64, 3)}, 3 * 4 * 4},
		{"maxpool k2 s2", &MaxPool2d{K: 2, Stride: 2, C: 2, InH: 4, InW: 5}, 2 * 4 * 5},
		{"maxpool k3 s1", &MaxPool2d{K: 3, Stride: 1, C: 2, InH: 5, InW: 4}, 2 * 5 * 4},
		{"leaky_relu", Activation{Func: LeakyReLU, Alpha: 0.1}, 9},
		{"sigmoid", Activation{Func: Sigmoid}, 9},
		{"tanh", Activation{Func: Tanh}, 9},
		{"gelu", Activation{Func: GELU}, 9},
	}
	const h = 1e-5
	for ci, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(ci), 42))
			switch l := tc.layer.(type) {
			case *Linear:
				fillRand(rng, l.W.RawMatrix().Data)
				fillRand(rng, l.B)
				for i, keep := range l.Mask {
					if !keep {
						l.W.RawMatrix().Data[i] = 0
					}
				}
			case *Conv2d:
				fillRand(rng, l.W.RawMatrix().Data)
				fillRand(rng, l.B)
			}
			if err := tc.layer.check(); err != nil {
				t.Fatal(err)
			}
			x := randDense(rng, 3, tc.in)
			out := tc.layer.Forward(x)
			or, oc := out.Dims()
			r := randDense(rng, or, oc)
			loss := func() float64 { return dot(tc.layer.Forward(x), r) }

			st := tc.layer.newState()
			if got := st.forward(x); !mat.EqualApprox(got, out, 1e-12) {
				t.Fatalf("training forward differs from Forward")
			}
			dx := st.backward(r, true)
			for i := 0; i < 3; i++ {
				for j := 0; j < tc.in; j++ {
					v := x.At(i, j)
					x.Set(i, j, v+h)
					lp := loss()
					x.Set(i, j, v-h)
					lm := loss()
					x.Set(i, j, v)
					checkClose(t, fmt.Sprintf("dx[%d][%d]", i, j), dx.At(i, j), (lp-lm)/(2*h))
				}
			}
			for pi, p := range st.params() {
				for k := range p.val {
					if p.mask != nil && !p.mask[k] {
						continue // a masked weight is not a free parameter
					}
					v := p.val[k]
					p.val[k] = v + h
					lp := loss()
					p.val[k] = v - h
					lm := loss()
					p.val[k] = v
					checkClose(t, fmt.Sprintf("param %d [%d]", pi, k), p.grad[k], (lp-lm)/(2*h))
				}
			}
		})
	}
}

// TestNetworkLossGradient checks the whole chain, softmax cross-entropy included, on a
// small CNN and an MLP: the gradient of the mean loss with respect to every parameter.
func TestNetworkLossGradient(t *testing.T) {
	cases := []struct {
		spec  string
		shape []int
	}{
		{"cnn:c3k3p1,pool2,c2k2,fc5", []int{2, 6, 6}},
		{"mlp:6,5", []int{7}},
	}
	for ci, tc := range cases {
		t.Run(tc.spec, func(t *testing.T) {
			net, err := Build(tc.spec, tc.shape, 3, uint64(ci))
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(7, uint64(ci)))
			for _, l := range net.Layers {
				switch l := l.(type) {
				case *Linear:
					fillRand(rng, l.B)
				case *Conv2d:
					fillRand(rng, l.B)
				}
			}
			x := randDense(rng, 4, prod(tc.shape))
			y := []int{0, 2, 1, 2}
			tr := newTrainer(net, TrainConfig{}.withDefaults())
			loss := tr.lossGrad(x, func(i int) int { return y[i] })
			if l2, _ := evaluate(net, x, y); math.Abs(l2-loss) > 1e-12 {
				t.Fatalf("training loss %v, evaluation loss %v", loss, l2)
			}
			const h = 1e-5
			for pi, p := range tr.params {
				for k := range p.val {
					v := p.val[k]
					p.val[k] = v + h
					lp, _ := evaluate(net, x, y)
					p.val[k] = v - h
					lm, _ := evaluate(net, x, y)
					p.val[k] = v
					checkClose(t, fmt.Sprintf("param %d [%d]", pi, k), p.grad[k], (lp-lm)/(2*h))
				}
			}
		})
	}
}

// TestNetworkLossGradientNewLayers checks the whole chain of a network with every layer
// added for imported PyTorch models: a dilated convolution, a grouped one, a max pool,
// and each activation function.
func TestNetworkLossGradientNewLayers(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	c1 := &Conv2d{OutC: 4, InC: 2, KH: 3, KW: 3, Stride: 1, Pad: 2, InH: 6, InW: 6, Dilation: 2,
		W: mat.NewDense(4, 2*9, nil), B: make([]float64, 4)}
	c2 := &Conv2d{OutC: 4, InC: 4, KH: 2, KW: 2, Stride: 1, Pad: 0, InH: 3, InW: 3, Groups: 2,
		W: mat.NewDense(4, 2*4, nil), B: make([]float64, 4)}
	l1, l2 := NewLinear(5, 16), NewLinear(3, 5)
	for _, p := range [][]float64{c1.W.RawMatrix().Data, c1.B, c2.W.RawMatrix().Data, c2.B, l1.W.RawMatrix().Data, l1.B, l2.W.RawMatrix().Data, l2.B} {
		fillRand(rng, p)
	}
	net := &Network{InShape: []int{2, 6, 6}, Classes: 3, Layers: []Layer{
		c1, Activation{Func: LeakyReLU, Alpha: 0.05}, &MaxPool2d{K: 2, Stride: 2, C: 4, InH: 6, InW: 6},
		c2, Activation{Func: Tanh}, Flatten{}, l1, Activation{Func: GELU}, Activation{Func: Sigmoid}, l2,
	}}
	if err := net.Validate(); err != nil {
		t.Fatal(err)
	}
	x := randDense(rng, 4, net.InSize())
	y := []int{0, 2, 1, 2}
	tr := newTrainer(net, TrainConfig{}.withDefaults())
	loss := tr.lossGrad(x, func(i int) int { return y[i] })
	if l2, _ := evaluate(net, x, y); math.Abs(l2-loss) > 1e-12 {
		t.Fatalf("training loss %v, evaluation loss %v", loss, l2)
	}
	const h = 1e-5
	for pi, p := range tr.params {
		for k := range p.val {
			v := p.val[k]
			p.val[k] = v + h
			lp, _ := evaluate(net, x, y)
			p.val[k] = v - h
			lm, _ := evaluate(net, x, y)
			p.val[k] = v
			checkClose(t, fmt.Sprintf("param %d [%d]", pi, k), p.grad[k], (lp-lm)/(2*h))
		}
	}
}
