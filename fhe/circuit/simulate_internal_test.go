package circuit

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// binomialOK reports whether k successes of n trials at probability p lie within 5
// standard deviations of n·p.
func binomialOK(k, n int64, p float64) bool {
	mean := float64(n) * p
	return math.Abs(float64(k)-mean) <= 5*math.Sqrt(mean*(1-p))+1
}

func TestShiftSamplerRate(t *testing.T) {
	for _, p := range []float64{0.05, 0.3, 1e-3} {
		s := newShiftSampler(p, 42, 0)
		const n = 1_000_000
		var k int64
		for s.next < n {
			if e := s.shift(s.next); e == 0 {
				t.Fatal("drew a zero shift")
			}
			k++
		}
		if !binomialOK(k, n, p) {
			t.Errorf("p=%v: %d errors in %d evaluations, expected %.0f", p, k, n, n*p)
		}
	}
	if s := newShiftSampler(1e-40, 1, 0); s.next < 1<<50 {
		t.Errorf("p=1e-40: first error at %d", s.next)
	}
	if s := newShiftSampler(0, 1, 0); s.next != math.MaxInt64 {
		t.Errorf("p=0: first error at %d", s.next)
	}
}

func TestShiftSamplerMagnitudes(t *testing.T) {
	// Given e ≠ 0, |e| ≥ 2 with probability T(1.5)/T(0.5) and |e| ≥ 3 with T(2.5)/T(0.5),
	// T(x) = erfc(√2·κ·x)/2; the sign is fair.
	for _, p := range []float64{0.6, 0.9} {
		s := newShiftSampler(p, 7, 3)
		const n = 200_000
		var ge2, ge3, neg int64
		for i := int64(0); i < n; i++ {
			e := s.shift(i)
			if e < 0 {
				neg++
				e = -e
			}
			if e >= 2 {
				ge2++
			}
			if e >= 3 {
				ge3++
			}
		}
		p2, p3 := s.tail(1.5)/s.tail(0.5), s.tail(2.5)/s.tail(0.5)
		if !binomialOK(ge2, n, p2) || !binomialOK(ge3, n, p3) || !binomialOK(neg, n, 0.5) {
			t.Errorf("p=%v: |e|≥2 %d (want %.0f), |e|≥3 %d (want %.0f), negative %d of %d",
				p, ge2, n*p2, ge3, n*p3, neg, n)
		}
	}
}

// referenceNoisy runs every sample through every layer with the same errors as simulate
// would draw, with no shortcut, and returns the predictions.
func referenceNoisy(c *Circuit, x *mat.Dense, pErrors []float64, seed uint64) []int {
	q := c.QuantizeInputs(x)
	n, _ := q.Dims()
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	cur := q
	for l, s := range c.stages {
		acc := mat.DenseCopyOf(s.levelled(cur))
		if s.tlu == nil {
			cur = acc
			break
		}
		sm := newShiftSampler(pErrors[l], seed, uint64(l))
		total := int64(n) * int64(s.outSize)
		var evs []event
		for sm.next < total {
			at := sm.next
			e := sm.shift(at)
			evs = append(evs, event{int(at / int64(s.outSize)), int(at % int64(s.outSize)), e})
		}
		cur = s.tlu.applyEvents(acc, all, evs)
	}
	preds := make([]int, n)
	for i := range preds {
		preds[i] = argmax(cur.RawRowView(i))
	}
	return preds
}

func TestSimulateMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	nets := map[string]*Network{"mlp": testMLP(rng), "cnn": testCNN(rng)}
	for name, net := range nets {
		x := mat.NewDense(400, net.InSize, nil)
		for i := range x.RawMatrix().Data {
			x.RawMatrix().Data[i] = rng.NormFloat64()
		}
		y := make([]int, 400)
		c, err := Compile(net, x, Config{NWBits: 6, NABits: 5, RoundingThresholdBits: 7})
		if err != nil {
			t.Fatal(err)
		}
		ps := make([]float64, c.TLULayers())
		for i := range ps {
			ps[i] = 0.1 * float64(i+1)
		}
		want := referenceNoisy(c, x, ps, 99)
		var first SimResult
		for _, batch := range []int{0, 1, 7, 64} {
			res, got, err := c.simulate(x, y, ps, 99, batch)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s, batch %d: predictions differ from the reference", name, batch)
			}
			if batch == 0 {
				first = res
				if res.Changed == 0 {
					t.Errorf("%s: errors changed no prediction", name)
				}
			} else if !slicesEqualLayers(res.Layers, first.Layers) {
				t.Errorf("%s, batch %d: layer counts %+v differ from %+v", name, batch, res.Layers, first.Layers)
			}
		}
	}
}

func slicesEqualLayers(a, b []SimLayer) bool { return slices.Equal(a, b) }

func testMLP(rng *rand.Rand) *Network {
	lin := func(out, in int) *Linear {
		l := &Linear{Out: out, In: in, W: make([]float64, out*in), B: make([]float64, out)}
		for i := range l.W {
			l.W[i] = rng.NormFloat64() / math.Sqrt(float64(in))
		}
		return l
	}
	return &Network{InSize: 20, Layers: []Layer{lin(16, 20), ReLU{}, lin(12, 16), lin(8, 12), ReLU{}, lin(3, 8)}}
}

func testCNN(rng *rand.Rand) *Network {
	conv := &Conv2d{OutC: 3, InC: 2, KH: 3, KW: 3, Stride: 1, Pad: 1, InH: 6, InW: 6, W: make([]float64, 54), B: make([]float64, 3)}
	conv2 := &Conv2d{OutC: 2, InC: 3, KH: 2, KW: 2, Stride: 1, Pad: 0, InH: 4, InW: 4, W: make([]float64, 24), B: make([]float64, 2)}
	fc := &Linear{Out: 3, In: 2 * 2 * 2, W: make([]float64, 24), B: make([]float64, 3)}
	for _, w := range [][]float64{conv.W, conv2.W, fc.W, conv.B, fc.B} {
		for i := range w {
			w[i] = rng.NormFloat64() / 3
		}
	}
	for i := range conv2.B {
		conv2.B[i] = 0.5
	}
	return &Network{InSize: 72, Layers: []Layer{
		conv, ReLU{}, &AvgPool2d{K: 3, Stride: 1, C: 3, InH: 6, InW: 6}, // overlapping windows
		conv2, &AvgPool2d{K: 2, Stride: 1, C: 2, InH: 3, InW: 3}, ReLU{}, // pool after a conv, before its TLU
		&AvgPool2d{K: 1, Stride: 1, C: 2, InH: 2, InW: 2}, Flatten{}, fc,
	}}
}
