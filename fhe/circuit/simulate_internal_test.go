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
		s := newShiftSampler([]float64{p}, 1, 1, 42, 0)
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
	if s := newShiftSampler([]float64{1e-40}, 1, 1, 1, 0); s.next < 1<<50 {
		t.Errorf("p=1e-40: first error at %d", s.next)
	}
	if s := newShiftSampler([]float64{0}, 1, 1, 1, 0); s.next != math.MaxInt64 {
		t.Errorf("p=0: first error at %d", s.next)
	}
}

func TestShiftSamplerGroups(t *testing.T) {
	// Two groups of 3 elements out of 6 per sample, at 0.2 and 0.02: thinning keeps each
	// group at its own rate.
	ps := []float64{0.2, 0.02}
	s := newShiftSampler(ps, 3, 6, 5, 1)
	const samples = 200_000
	var k [2]int64
	for s.next < samples*6 {
		at := s.next
		if e := s.shift(at); e != 0 {
			k[int(at%6)/3]++
		}
	}
	for g, p := range ps {
		if !binomialOK(k[g], samples*3, p) {
			t.Errorf("group %d: %d errors in %d evaluations, expected %.0f", g, k[g], samples*3, samples*3*p)
		}
	}
}

func TestShiftSamplerMagnitudes(t *testing.T) {
	// Given e ≠ 0, |e| ≥ 2 with probability T(1.5)/T(0.5) and |e| ≥ 3 with T(2.5)/T(0.5),
	// T(x) = erfc(√2·κ·x)/2; the sign is fair.
	for _, p := range []float64{0.6, 0.9} {
		s := newShiftSampler([]float64{p}, 1, 1, 7, 3)
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
		p2, p3 := s.tail(0, 1.5)/s.tail(0, 0.5), s.tail(0, 2.5)/s.tail(0, 0.5)
		if !binomialOK(ge2, n, p2) || !binomialOK(ge3, n, p3) || !binomialOK(neg, n, 0.5) {
			t.Errorf("p=%v: |e|≥2 %d (want %.0f), |e|≥3 %d (want %.0f), negative %d of %d",
				p, ge2, n*p2, ge3, n*p3, neg, n)
		}
	}
}

func TestApproxDeviation(t *testing.T) {
	// A value at a quarter past its cell's boundary under noise of σ = 0.25 steps moves
	// down with probability Q(1) and up with Q(3).
	const f, sigma, n = 0.25, 0.25, 400_000
	rng := rand.New(rand.NewPCG(3, 4))
	var up, down int64
	for range n {
		switch d := approxDeviation(f, sigma, rng.Float64()); {
		case d > 0:
			up++
		case d < 0:
			down++
		}
	}
	if !binomialOK(down, n, gaussTail(1)) || !binomialOK(up, n, gaussTail(3)) {
		t.Errorf("down %d (want %.0f), up %d (want %.0f)", down, n*gaussTail(1), up, n*gaussTail(3))
	}
	if d := approxDeviation(0.5, 0, 0.1); d != 0 {
		t.Errorf("no noise moved the index by %d", d)
	}
}

// referenceNoisy runs every sample through every layer with the same errors as simulate
// would draw, with no shortcut, and returns the predictions.
func referenceNoisy(c *Circuit, x *mat.Dense, noise *Noise, seed uint64) []int {
	q := c.QuantizeInputs(x)
	n, _ := q.Dims()
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	samplers := make([]layerSampler, c.TLULayers())
	for i := range samplers {
		samplers[i], _ = c.newLayerSampler(i, noise.Layers[i], seed)
	}
	job := c.drawErrors(0, n, samplers, make([]SimLayer, len(samplers)))
	cur := q
	for l, s := range c.stages {
		acc := mat.DenseCopyOf(s.levelled(cur))
		if s.tlu == nil {
			cur = acc
			break
		}
		cur = c.applyNoisy(l, acc, all, job, samplers[l], seed)
	}
	preds := make([]int, n)
	out := c.stages[len(c.stages)-1].out
	for i := range preds {
		preds[i] = out.predict(cur.RawRowView(i))
	}
	return preds
}

func TestSimulateMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	nets := map[string]*Network{"mlp": testMLP(rng), "cnn": testCNN(rng), "maxpool": testMaxPoolNet(rng)}
	for name, net := range nets {
		x := mat.NewDense(400, net.InSize, nil)
		for i := range x.RawMatrix().Data {
			x.RawMatrix().Data[i] = rng.NormFloat64()
		}
		y := make([]int, 400)
		for _, method := range []RoundingMethod{Exact, Approximate} {
			c, err := Compile(net, x, Config{NWBits: 6, NABits: 5, RoundingThresholdBits: 5, RoundingMethod: method})
			if err != nil {
				t.Fatal(err)
			}
			noise := UniformNoise(c, 0.05)
			for i := range noise.Layers {
				for g := range noise.Layers[i].TLU {
					noise.Layers[i].TLU[g] = sigmaOfPError(0.03 * float64(i+g%3+1))
				}
			}
			want := referenceNoisy(c, x, &noise, 99)
			var first SimResult
			for _, batch := range []int{0, 1, 7, 64} {
				res, got, err := c.simulate(x, y, &noise, 99, batch)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, want) {
					t.Errorf("%s %v, batch %d: predictions differ from the reference", name, method, batch)
				}
				if batch == 0 {
					first = res
					if res.Changed == 0 {
						t.Errorf("%s %v: errors changed no prediction", name, method)
					}
				} else if !slicesEqualLayers(res.Layers, first.Layers) {
					t.Errorf("%s %v, batch %d: layer counts %+v differ from %+v", name, method, batch, res.Layers, first.Layers)
				}
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

// testMaxPoolNet has a dilated grouped convolution, a tanh, overlapping max pools (one
// on another) and a leaky ReLU on their maxima.
func testMaxPoolNet(rng *rand.Rand) *Network {
	conv := &Conv2d{OutC: 4, InC: 2, KH: 2, KW: 2, Stride: 1, Pad: 1, InH: 6, InW: 6, Dilation: 2, Groups: 2,
		W: make([]float64, 16), B: make([]float64, 4)}
	fc := &Linear{Out: 3, In: 4 * 3 * 3, W: make([]float64, 108), B: make([]float64, 3)}
	for _, w := range [][]float64{conv.W, conv.B, fc.W, fc.B} {
		for i := range w {
			w[i] = rng.NormFloat64() / 2
		}
	}
	return &Network{InSize: 72, Layers: []Layer{
		conv, Activation{Func: Tanh}, &MaxPool2d{K: 2, Stride: 1, C: 4, InH: 6, InW: 6},
		&MaxPool2d{K: 3, Stride: 1, C: 4, InH: 5, InW: 5}, Activation{Func: LeakyReLU, Alpha: 0.2}, Flatten{}, fc,
	}}
}

// TestMaxPoolChain checks the comparison chain against the plain maximum, and a moved
// comparison index against the relu table: a +1 on a comparison whose difference is −1
// makes relu(0) = 0 (no change), on a difference of 0 makes relu(1) = 1 (one more).
func TestMaxPoolChain(t *testing.T) {
	g := poolGeom{K: 2, Stride: 2, C: 1, InH: 2, InW: 4}
	p := &maxPool{g: g, init: -4, windows: g.windows()}
	tl := &tlu{act: actReLU, fn: affine{a: 1, b: []float64{0}, group: 8}}
	tl.setWidth(4)
	x := mat.NewDense(1, 8, []float64{1, 3, -4, 2, 3, 0, 2, 2})
	out, ov, _ := p.run(tl, x, nil, -7, 7)
	if out.At(0, 0) != 3 || out.At(0, 1) != 2 || ov != 0 {
		t.Fatalf("maxima %v, overflows %d; want [3 2], 0", out.RawRowView(0), ov)
	}
	// Output 1 reads −4, 2, 2, 2: the chain's differences are −4−(−4) = 0, −4−2, 2−2, 2−2.
	for _, c := range []struct {
		k       int
		e       int64
		want    float64
		changed int64
	}{
		{1, 1, 2, 0},  // −6 + 1: relu still 0
		{2, 1, 3, 1},  // 0 + 1: relu(1) = 1, the maximum grows by one
		{3, -1, 2, 0}, // 0 − 1: relu(−1) = 0
	} {
		out, _, changed := p.run(tl, x, func(int) map[int]int64 { return map[int]int64{4 + c.k: c.e} }, -7, 7)
		if out.At(0, 1) != c.want || out.At(0, 0) != 3 || changed != c.changed {
			t.Errorf("comparison %d moved by %d: maxima %v, %d changed; want %v, %d", c.k, c.e, out.RawRowView(0), changed, c.want, c.changed)
		}
	}
	// A difference below the 4-bit signed range wraps into the padding half and returns
	// a negated entry, as a bootstrap does: −9 reads index 31, −relu(7) = −7.
	if got := tl.lookup(0, tl.index(-9)); got != -7 {
		t.Errorf("difference −9 reads %v, want −7", got)
	}
}

func TestNegacyclicLookup(t *testing.T) {
	// A 3-bit TLU f(r) = r (requantized with scale 1): an index in the padding half
	// [8, 16) returns −f(index − 8), and 16 wraps to 0, as a bootstrap does.
	id := &tlu{act: actIdentity, precision: 3, fn: affine{a: 1, b: []float64{0}, group: 1},
		outQ: Quantizer{Bits: 4, Scale: 1}}
	for _, c := range []struct {
		v    int64
		want float64
	}{{0, 0}, {5, 5}, {7, 7}, {8, -0}, {9, -1}, {15, -7}, {16, 0}, {-1, -7}} {
		if got := id.lookup(0, id.index(c.v)); got != c.want {
			t.Errorf("unsigned: accumulator %d → %v, want %v", c.v, got, c.want)
		}
	}
	// Signed, f(r) = r + 10: offset 2^(P−1) = 4, so −4..3 read f; 4 (one past the top)
	// lands on index 8 and returns −f(−4) = −6; −5 wraps to index 15 and returns −f(3).
	signed := &tlu{act: actIdentity, precision: 3, offset: 4, fn: affine{a: 1, b: []float64{10}, group: 1},
		outQ: Quantizer{Bits: 5, Scale: 1}}
	for _, c := range []struct {
		v    int64
		want float64
	}{{-4, 6}, {3, 13}, {4, -6}, {-5, -13}} {
		if got := signed.lookup(0, signed.index(c.v)); got != c.want {
			t.Errorf("signed: accumulator %d → %v, want %v", c.v, got, c.want)
		}
	}
	// Rounding without the extra overflow bit: t = 2, the top value 31 rounds to 8,
	// one past a 3-bit unsigned range, and comes back as −f(0).
	r := &tlu{act: actIdentity, shift: 2, precision: 3, fn: affine{a: 1, b: []float64{1}, group: 1},
		outQ: Quantizer{Bits: 6, Scale: 1}}
	if got := r.lookup(0, r.index(31)); got != -1 {
		t.Errorf("rounded overflow: %v, want −f(0) = −1", got)
	}
}

func TestTermsAndTablesMatchTheCircuit(t *testing.T) {
	// Recomputing every accumulator from Terms and every TLU output from TLUTable gives
	// what the circuit computes, for dense layers, convolutions with padding and pools.
	rng := rand.New(rand.NewPCG(71, 72))
	for name, net := range map[string]*Network{"mlp": testMLP(rng), "cnn": testCNN(rng)} {
		x := mat.NewDense(30, net.InSize, nil)
		for i := range x.RawMatrix().Data {
			x.RawMatrix().Data[i] = rng.NormFloat64()
		}
		c, err := Compile(net, x, Config{NWBits: 4, NABits: 4, RoundingThresholdBits: 5})
		if err != nil {
			t.Fatal(err)
		}
		q := c.QuantizeInputs(x)
		accs, outs := c.TLUOutputs(q)
		in := q
		for i := range c.stages {
			for s := 0; s < 30; s++ {
				row := in.RawRowView(s)
				for j := 0; j < c.stages[i].outSize; j++ {
					sum := 0.0
					k, err := c.Terms(i, j, func(input int, w int64) { sum += float64(w) * row[input] })
					if err != nil {
						t.Fatal(err)
					}
					acc := sum + float64(k)
					if acc != accs[i].At(s, j) {
						t.Fatalf("%s layer %d accumulator %d of sample %d: %v, circuit %v", name, i, j, s, acc, accs[i].At(s, j))
					}
					if i == c.TLULayers() {
						continue
					}
					tab, err := c.TLUTable(i, j)
					if err != nil {
						t.Fatal(err)
					}
					l := c.Layers[i]
					r := RoundLSBs(int64(acc), l.LSBsRemoved) >> l.LSBsRemoved
					u := (r + c.IndexOffset(i)) & (int64(1)<<(l.TLUBits+1) - 1)
					want := 0.0
					if size := int64(len(tab)); u < size {
						want = float64(tab[u])
					} else {
						want = -float64(tab[u-size])
					}
					if want != outs[i].At(s, j) {
						t.Fatalf("%s layer %d TLU %d of sample %d: table gives %v, circuit %v", name, i, j, s, want, outs[i].At(s, j))
					}
				}
			}
			if i < c.TLULayers() {
				in = outs[i]
			}
		}
	}
}
