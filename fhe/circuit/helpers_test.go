package circuit_test

import (
	"math"
	"math/rand/v2"

	"github.com/fhetune/fhetune/fhe"
	"github.com/fhetune/fhetune/fhe/circuit"
	"gonum.org/v1/gonum/mat"
)

// randomMLP returns an MLP in → hidden... → classes with He-uniform weights.
func randomMLP(rng *rand.Rand, in int, hidden []int, classes int) *circuit.Network {
	net := &circuit.Network{InSize: in}
	prev := in
	for i, h := range append(append([]int(nil), hidden...), classes) {
		l := &circuit.Linear{Out: h, In: prev, W: make([]float64, h*prev), B: make([]float64, h)}
		a := math.Sqrt(6 / float64(prev))
		for j := range l.W {
			l.W[j] = a * (2*rng.Float64() - 1)
		}
		for j := range l.B {
			l.B[j] = 0.1 * (2*rng.Float64() - 1)
		}
		net.Layers = append(net.Layers, l)
		if i < len(hidden) {
			net.Layers = append(net.Layers, circuit.ReLU{})
		}
		prev = h
	}
	return net
}

// randomCNN returns conv(4, 3×3, pad 1) ReLU pool2 conv(6, 3×3, pad 1) ReLU pool2 flatten
// linear(classes) on 1×8×8 inputs.
func randomCNN(rng *rand.Rand, classes int) *circuit.Network {
	fill := func(w []float64, fan int) {
		a := math.Sqrt(6 / float64(fan))
		for j := range w {
			w[j] = a * (2*rng.Float64() - 1)
		}
	}
	c1 := &circuit.Conv2d{OutC: 4, InC: 1, KH: 3, KW: 3, Stride: 1, Pad: 1, InH: 8, InW: 8, W: make([]float64, 36), B: make([]float64, 4)}
	c2 := &circuit.Conv2d{OutC: 6, InC: 4, KH: 3, KW: 3, Stride: 1, Pad: 1, InH: 4, InW: 4, W: make([]float64, 6*36), B: make([]float64, 6)}
	fc := &circuit.Linear{Out: classes, In: 6 * 2 * 2, W: make([]float64, classes*24), B: make([]float64, classes)}
	fill(c1.W, 9)
	fill(c2.W, 36)
	fill(fc.W, 24)
	return &circuit.Network{InSize: 64, Layers: []circuit.Layer{
		c1, circuit.ReLU{}, &circuit.AvgPool2d{K: 2, Stride: 2, C: 4, InH: 8, InW: 8},
		c2, circuit.ReLU{}, &circuit.AvgPool2d{K: 2, Stride: 2, C: 6, InH: 4, InW: 4},
		circuit.Flatten{}, fc,
	}}
}

// randomData returns n standard normal samples of d features.
func randomData(rng *rand.Rand, n, d int) *mat.Dense {
	x := mat.NewDense(n, d, nil)
	for i := range x.RawMatrix().Data {
		x.RawMatrix().Data[i] = rng.NormFloat64()
	}
	return x
}

// teacherLabels labels x with the float network's own predictions, so its float
// accuracy is 1.
func teacherLabels(net *circuit.Network, x *mat.Dense) []int {
	logits := net.Forward(x)
	r, _ := logits.Dims()
	y := make([]int, r)
	for i := range y {
		row := logits.RawRowView(i)
		for j, v := range row {
			if v > row[y[i]] {
				y[i] = j
			}
		}
	}
	return y
}

// complexityTiming turns Concrete's complexity model into milliseconds with one scale: a
// stand-in for a calibration profile in tests.
type complexityTiming struct{ msPerOp float64 }

func (t complexityTiming) PBSMillis(p fhe.Params) float64 {
	return t.msPerOp * (p.PBSComplexity() + p.KeySwitchComplexity())
}
func (t complexityTiming) BootstrapMillis(p fhe.Params) float64 { return t.msPerOp * p.PBSComplexity() }
func (t complexityTiming) KeySwitchMillis(from, to fhe.Params, level int) float64 {
	_, c, _ := fhe.KeySwitchBetween(from, to, level, 1, fhe.DefaultSecurity)
	return t.msPerOp * c
}
func (t complexityTiming) ParallelMillis(p fhe.Params, k int) float64 {
	return t.PBSMillis(p) * (1 + 0.1*float64(k-1))
}
func (t complexityTiming) LevelledMillis(p fhe.Params, macs int64) float64 {
	return t.msPerOp * float64(macs) * float64(p.GLWEDimension())
}
func (complexityTiming) Source() string { return "complexity" }
