package tuner_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/fhetune/fhetune/fhe/circuit"
	"github.com/fhetune/fhetune/tuner"
	"github.com/fhetune/fhetune/tuner/model"
)

// TestCircuitNetworkNewLayers converts a network with a dilated and a grouped
// convolution, a max pool and every activation function, and checks that the circuit's
// float network computes the model's logits and compiles.
func TestCircuitNetworkNewLayers(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	c1 := &model.Conv2d{OutC: 4, InC: 2, KH: 3, KW: 3, Stride: 1, Pad: 2, InH: 6, InW: 6, Dilation: 2,
		W: mat.NewDense(4, 18, nil), B: make([]float64, 4)}
	c2 := &model.Conv2d{OutC: 4, InC: 4, KH: 2, KW: 2, Stride: 1, InH: 3, InW: 3, Groups: 2,
		W: mat.NewDense(4, 8, nil), B: make([]float64, 4)}
	l1, l2 := model.NewLinear(5, 16), model.NewLinear(3, 5)
	for _, s := range [][]float64{c1.W.RawMatrix().Data, c1.B, c2.W.RawMatrix().Data, c2.B, l1.W.RawMatrix().Data, l1.B, l2.W.RawMatrix().Data, l2.B} {
		for i := range s {
			s[i] = rng.NormFloat64() / 2
		}
	}
	net := &model.Network{InShape: []int{2, 6, 6}, Classes: 3, Layers: []model.Layer{
		c1, model.Activation{Func: model.LeakyReLU, Alpha: 0.1}, &model.MaxPool2d{K: 2, Stride: 2, C: 4, InH: 6, InW: 6},
		c2, model.Activation{Func: model.GELU}, model.Flatten{}, model.Activation{Func: model.Tanh}, l1,
		model.Activation{Func: model.Sigmoid}, l2,
	}}
	cnet, err := tuner.CircuitNetwork(net)
	if err != nil {
		t.Fatal(err)
	}
	if g, ok := cnet.Layers[0].(*circuit.Conv2d); !ok || g.Dilation != 2 || g.Groups != 1 {
		t.Errorf("layer 0 %+v, want a conv2d of dilation 2 and 1 group", cnet.Layers[0])
	}
	if g, ok := cnet.Layers[3].(*circuit.Conv2d); !ok || g.Dilation != 1 || g.Groups != 2 {
		t.Errorf("layer 3 %+v, want a conv2d of dilation 1 and 2 groups", cnet.Layers[3])
	}
	if a, ok := cnet.Layers[1].(circuit.Activation); !ok || a != (circuit.Activation{Func: circuit.LeakyReLU, Alpha: 0.1}) {
		t.Errorf("layer 1 %+v", cnet.Layers[1])
	}
	if p, ok := cnet.Layers[2].(*circuit.MaxPool2d); !ok || *p != (circuit.MaxPool2d{K: 2, Stride: 2, C: 4, InH: 6, InW: 6}) {
		t.Errorf("layer 2 %+v", cnet.Layers[2])
	}
	x := mat.NewDense(50, net.InSize(), nil)
	for i := range x.RawMatrix().Data {
		x.RawMatrix().Data[i] = rng.NormFloat64()
	}
	want, got := net.Forward(x), cnet.Forward(x)
	r, c := want.Dims()
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			if math.Abs(got.At(i, j)-want.At(i, j)) > 1e-12 {
				t.Fatalf("sample %d logit %d: circuit %v, model %v", i, j, got.At(i, j), want.At(i, j))
			}
		}
	}
	cc, err := circuit.Compile(cnet, x, circuit.Config{NWBits: 4, NABits: 4, RoundingThresholdBits: 6})
	if err != nil {
		t.Fatal(err)
	}
	if cc.Layers[1].Op != "maxpool" || cc.Layers[1].TLUCount != 4*3*3*4 {
		t.Errorf("layer 1 of the circuit %+v, want the max pool's 144 comparisons", cc.Layers[1])
	}
}
