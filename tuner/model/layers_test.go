package model_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/fhetune/fhetune/tuner/model"
)

// naiveConv is the convolution of one sample written as its definition: a sum over the
// output channel's group of input channels, the kernel taps at their dilated offsets,
// zero outside the image.
func naiveConv(l *model.Conv2d, x []float64) []float64 {
	g := max(1, l.Groups)
	d := max(1, l.Dilation)
	ic, og := l.InC/g, l.OutC/g
	oh := (l.InH+2*l.Pad-(d*(l.KH-1)+1))/l.Stride + 1
	ow := (l.InW+2*l.Pad-(d*(l.KW-1)+1))/l.Stride + 1
	out := make([]float64, l.OutC*oh*ow)
	for o := 0; o < l.OutC; o++ {
		for p := 0; p < oh; p++ {
			for q := 0; q < ow; q++ {
				sum := l.B[o]
				for c := 0; c < ic; c++ {
					for i := 0; i < l.KH; i++ {
						for j := 0; j < l.KW; j++ {
							y, xx := p*l.Stride-l.Pad+i*d, q*l.Stride-l.Pad+j*d
							if y < 0 || y >= l.InH || xx < 0 || xx >= l.InW {
								continue
							}
							in := (o/og)*ic + c
							sum += l.W.At(o, (c*l.KH+i)*l.KW+j) * x[(in*l.InH+y)*l.InW+xx]
						}
					}
				}
				out[(o*oh+p)*ow+q] = sum
			}
		}
	}
	return out
}

// TestConv2dDilatedGrouped checks dilated and grouped convolutions against the naive
// sum, and their output shape against PyTorch's formula.
func TestConv2dDilatedGrouped(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct {
		name   string
		l      *model.Conv2d
		oh, ow int
	}{
		// (9 + 2·2 − (2·2 + 1))/1 + 1 = 9; (8 + 4 − 5)/1 + 1 = 8.
		{"dilation 2", &model.Conv2d{OutC: 3, InC: 2, KH: 3, KW: 3, Stride: 1, Pad: 2, InH: 9, InW: 8, Dilation: 2}, 9, 8},
		// (7 + 2 − 3)/2 + 1 = 4; (6 + 2 − 3)/2 + 1 = 3.
		{"groups 2", &model.Conv2d{OutC: 4, InC: 6, KH: 3, KW: 3, Stride: 2, Pad: 1, InH: 7, InW: 6, Groups: 2}, 4, 3},
		// (8 + 0 − (3·2 + 1))/1 + 1 = 2; (9 − (3·1 + 1))/1 + 1 = 6.
		{"groups 3 dilation 3", &model.Conv2d{OutC: 6, InC: 3, KH: 3, KW: 2, Stride: 1, InH: 8, InW: 9, Dilation: 3, Groups: 3}, 2, 6},
		{"depthwise", &model.Conv2d{OutC: 4, InC: 4, KH: 3, KW: 3, Stride: 1, Pad: 1, InH: 5, InW: 5, Groups: 4}, 5, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := tc.l
			l.W = mat.NewDense(l.OutC, l.InC/max(1, l.Groups)*l.KH*l.KW, nil)
			l.B = make([]float64, l.OutC)
			for i := range l.W.RawMatrix().Data {
				l.W.RawMatrix().Data[i] = rng.NormFloat64()
			}
			for i := range l.B {
				l.B[i] = rng.NormFloat64()
			}
			net := &model.Network{InShape: []int{l.InC, l.InH, l.InW}, Classes: 2, Layers: []model.Layer{l}}
			shapes, err := net.Shapes()
			if err != nil {
				t.Fatal(err)
			}
			if want := []int{l.OutC, tc.oh, tc.ow}; !equalInts(shapes[0], want) {
				t.Fatalf("shape %v, want %v", shapes[0], want)
			}
			if want := l.OutC*l.InC/max(1, l.Groups)*l.KH*l.KW + l.OutC; l.NumParams() != want {
				t.Errorf("NumParams %d, want %d", l.NumParams(), want)
			}
			x := randomBatch(5, 3, l.InC*l.InH*l.InW)
			y := l.Forward(x)
			for s := 0; s < 3; s++ {
				want := naiveConv(l, x.RawRowView(s))
				for j, v := range y.RawRowView(s) {
					if math.Abs(v-want[j]) > 1e-12 {
						t.Fatalf("sample %d output %d: %v, want %v", s, j, v, want[j])
					}
				}
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestActivationForward checks each function against its formula, GELU against the
// erf form PyTorch uses by default.
func TestActivationForward(t *testing.T) {
	xs := []float64{-6, -2.5, -1, -0.3, 0, 0.2, 1, 3.5, 30, -30}
	x := mat.NewDense(2, 5, xs)
	for _, tc := range []struct {
		a    model.Activation
		want func(v float64) float64
	}{
		{model.Activation{Func: model.LeakyReLU, Alpha: 0.01}, func(v float64) float64 {
			if v < 0 {
				return 0.01 * v
			}
			return v
		}},
		{model.Activation{Func: model.Sigmoid}, func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }},
		{model.Activation{Func: model.Tanh}, math.Tanh},
		{model.Activation{Func: model.GELU}, func(v float64) float64 { return v / 2 * (1 + math.Erf(v/math.Sqrt2)) }},
	} {
		if tc.a.Kind() != tc.a.Func {
			t.Errorf("Kind %q, want %q", tc.a.Kind(), tc.a.Func)
		}
		y := tc.a.Forward(x)
		for i, v := range xs {
			if got, want := y.At(i/5, i%5), tc.want(v); math.Abs(got-want) > 1e-15*max(1, math.Abs(want)) {
				t.Errorf("%s(%v) = %v, want %v", tc.a.Func, v, got, want)
			}
		}
		if x.At(0, 0) != -6 {
			t.Fatal("Forward changed its input")
		}
	}
	// Hand values: GELU(1) = Φ(1) = 0.8413447460685429, GELU(−1) = −(1 − Φ(1)).
	g := model.Activation{Func: model.GELU}.Forward(mat.NewDense(1, 2, []float64{1, -1}))
	if math.Abs(g.At(0, 0)-0.8413447460685429) > 1e-15 || math.Abs(g.At(0, 1)+0.15865525393145707) > 1e-15 {
		t.Errorf("GELU(1), GELU(−1) = %v, %v", g.At(0, 0), g.At(0, 1))
	}
}

// TestActivationCheck: an unknown function is refused naming it and the supported ones,
// and so is a non-finite alpha.
func TestActivationCheck(t *testing.T) {
	lin := &model.Linear{W: mat.NewDense(2, 2, []float64{1, 0, 0, 1}), B: []float64{0, 0}}
	for _, tc := range []struct {
		a    model.Activation
		want []string
	}{
		{model.Activation{Func: "swish"}, []string{`"swish"`, "leaky_relu, sigmoid, tanh, gelu"}},
		{model.Activation{Func: model.LeakyReLU, Alpha: math.NaN()}, []string{"leaky_relu", "alpha NaN"}},
		{model.Activation{Func: model.Tanh, Alpha: math.Inf(1)}, []string{"alpha +Inf"}},
	} {
		net := &model.Network{InShape: []int{2}, Classes: 2, Layers: []model.Layer{tc.a, lin}}
		err := net.Validate()
		if !errors.Is(err, model.ErrShape) {
			t.Errorf("%+v: error %v, want ErrShape", tc.a, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%+v: error %q does not say %q", tc.a, err, w)
			}
		}
		if _, err := net.MarshalBinary(); err == nil {
			t.Errorf("%+v: encoded", tc.a)
		}
	}
}

// TestMaxPoolForward checks a hand-computed case, with a tie and overlapping windows.
func TestMaxPoolForward(t *testing.T) {
	// One channel 4×4:
	//	 1  5  2  0
	//	-3  4  7  7
	//	 0  0 -1 -2
	//	 9  1 -5 -6
	x := mat.NewDense(1, 16, []float64{1, 5, 2, 0, -3, 4, 7, 7, 0, 0, -1, -2, 9, 1, -5, -6})
	p := &model.MaxPool2d{K: 2, Stride: 2, C: 1, InH: 4, InW: 4}
	if got, want := p.Forward(x).RawRowView(0), []float64{5, 7, 9, -1}; !equalFloats(got, want) {
		t.Errorf("k2 s2: %v, want %v", got, want)
	}
	q := &model.MaxPool2d{K: 3, Stride: 1, C: 1, InH: 4, InW: 4}
	if got, want := q.Forward(x).RawRowView(0), []float64{7, 7, 9, 7}; !equalFloats(got, want) {
		t.Errorf("k3 s1: %v, want %v", got, want)
	}
	if p.Kind() != "maxpool2d" || p.NumParams() != 0 {
		t.Errorf("kind %q, params %d", p.Kind(), p.NumParams())
	}
	if _, err := p.OutShape([]int{2, 4, 4}); !errors.Is(err, model.ErrShape) {
		t.Errorf("wrong channels: %v", err)
	}
}

func equalFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestConv2dCheckGroups: groups that do not divide the channels, negative dilation and
// weights of the ungrouped width are refused.
func TestConv2dCheckGroups(t *testing.T) {
	mk := func(c model.Conv2d) *model.Network {
		l := &c
		l.B = make([]float64, l.OutC)
		if l.W == nil {
			l.W = mat.NewDense(l.OutC, l.InC/max(1, l.Groups)*l.KH*l.KW, nil)
		}
		return &model.Network{InShape: []int{l.InC, l.InH, l.InW}, Classes: 2,
			Layers: []model.Layer{l, model.Flatten{}, model.NewLinear(2, l.OutC*9)}}
	}
	base := model.Conv2d{OutC: 4, InC: 4, KH: 3, KW: 3, Stride: 1, Pad: 1, InH: 3, InW: 3}
	for _, tc := range []struct {
		name string
		edit func(*model.Conv2d)
		want string
	}{
		{"groups 3", func(c *model.Conv2d) { c.Groups = 3 }, "groups 3 must divide"},
		{"dilation -1", func(c *model.Conv2d) { c.Dilation = -1 }, "dilation -1"},
		{"ungrouped weights", func(c *model.Conv2d) { c.Groups = 2; c.W = mat.NewDense(4, 36, nil) }, "weights are 4×36, want 4×18"},
	} {
		c := base
		tc.edit(&c)
		err := mk(c).Validate()
		if !errors.Is(err, model.ErrShape) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one saying %q", tc.name, err, tc.want)
		}
	}
	// Dilation 2 with padding 2: (3 + 4 − 5) + 1 = 3, the shape the linear layer takes.
	ok := base
	ok.Dilation, ok.Pad, ok.Groups = 2, 2, 2
	if err := mk(ok).Validate(); err != nil {
		t.Errorf("dilated grouped conv: %v", err)
	}
}
