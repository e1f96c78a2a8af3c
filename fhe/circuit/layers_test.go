package circuit_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/fhetune/fhetune/fhe"
	"github.com/fhetune/fhetune/fhe/circuit"
	"gonum.org/v1/gonum/mat"
)

// exactNet is a network whose quantization is exact (integer weights of magnitude ≤ 3
// and symmetric, n_w_bits 3 gives scale 1; inputs 0..7, 3 unsigned bits of scale 1):
// a convolution with dilation 2 and 2 groups on 2×5×5, a leaky ReLU, a 2×2 max pool
// and a linear layer.
func exactNet() (*circuit.Network, *mat.Dense) {
	conv := &circuit.Conv2d{OutC: 2, InC: 2, KH: 2, KW: 2, Stride: 1, Pad: 1, InH: 5, InW: 5, Dilation: 2, Groups: 2,
		W: []float64{3, -1, 2, -3, 1, -2, 3, -1}, B: []float64{0.5, -1}}
	fc := &circuit.Linear{Out: 3, In: 8, W: []float64{
		1, -2, 3, 0, -1, 2, -3, 1,
		-3, 1, 0, 2, 3, -2, 1, -1,
		2, 3, -1, -2, 0, 1, -3, 3}, B: []float64{0, 1, -1}}
	net := &circuit.Network{InSize: 50, Layers: []circuit.Layer{
		conv, circuit.Activation{Func: circuit.LeakyReLU, Alpha: 0.25},
		&circuit.MaxPool2d{K: 2, Stride: 2, C: 2, InH: 5, InW: 5}, circuit.Flatten{}, fc,
	}}
	rng := rand.New(rand.NewPCG(5, 6))
	x := mat.NewDense(40, 50, nil)
	for i := range x.RawMatrix().Data {
		x.RawMatrix().Data[i] = float64(rng.IntN(8))
	}
	x.Set(0, 0, 0)
	x.Set(0, 1, 7)
	return net, x
}

// TestCompileExactNewLayers checks a dilated grouped convolution, a leaky ReLU and a max
// pool against integer loops written from their definitions: the accumulators, the TLU
// outputs (the table is Q(leaky(acc + bias)) with a signed quantizer), the maxima (the
// pool keeps its input's quantizer), their requantization (an identity TLU reading the
// 5-bit maxima) and the output accumulators.
func TestCompileExactNewLayers(t *testing.T) {
	net, x := exactNet()
	c, err := circuit.Compile(net, x, circuit.Config{NWBits: 3, NABits: 4, NInputBits: 3})
	if err != nil {
		t.Fatal(err)
	}
	if c.Input != (circuit.Quantizer{Bits: 3, Scale: 1}) {
		t.Fatalf("input quantizer %+v, want 3 bits of scale 1", c.Input)
	}
	names := []string{}
	for _, l := range c.Layers {
		names = append(names, l.Name+"/"+l.Op+"/"+l.Activation)
	}
	if got := strings.Join(names, " "); got != "conv1/conv/leaky_relu maxpool1/maxpool/max maxpool1_identity/none/identity fc1/dense/" {
		t.Fatalf("layers %s", got)
	}
	conv, pool, req := c.Layers[0], c.Layers[1], c.Layers[2]
	if !conv.Quantizer.Signed {
		t.Errorf("leaky ReLU quantizer %+v is not signed", conv.Quantizer)
	}
	// Dilation 2: extent 3, (5 + 2 − 3) + 1 = 5; each output reads 1 channel × 2×2 taps.
	if conv.TLUCount != 50 || conv.LevelledOps != 50*4 {
		t.Errorf("conv TLUs %d, levelled ops %d; want 50, 200", conv.TLUCount, conv.LevelledOps)
	}
	// 2×2 pool on 2×5×5: 2×2×2 outputs, 4 comparisons each (Concrete's K²).
	if pool.TLUCount != 2*2*2*4 || pool.PBSCount() != 32 || pool.LevelledOps != 64 {
		t.Errorf("max pool TLUs %d, PBS %d, levelled ops %d; want 32, 32, 64", pool.TLUCount, pool.PBSCount(), pool.LevelledOps)
	}
	if pool.Quantizer != conv.Quantizer {
		t.Errorf("max pool quantizer %+v, want its input's %+v", pool.Quantizer, conv.Quantizer)
	}
	// The differences of 4-bit inputs need 5 bits; the maxima are encoded so, and the
	// identity TLU that requantizes them reads 5 bits (their own range needs 4).
	if pool.AccMin != -15 || pool.AccMax != 15 || pool.AccumulatorBits != 5 || pool.TLUBits != 5 || !pool.Signed {
		t.Errorf("max pool range %d..%d at %d bits (TLU %d)", pool.AccMin, pool.AccMax, pool.AccumulatorBits, pool.TLUBits)
	}
	if req.AccumulatorBits != 5 || req.TLUBits != 5 || req.TLUCount != 8 || req.LSBsRemoved != 0 {
		t.Errorf("requantization %+v: want 8 TLUs reading 5 bits", req)
	}
	if pool.Norm2 != 2 { // ⌈√3⌉
		t.Errorf("max pool norm2 %d, want 2", pool.Norm2)
	}

	q := c.QuantizeInputs(x)
	accs, outs := c.TLUOutputs(q)
	wq := conv.Quantizer
	r, _ := x.Dims()
	for s := 0; s < r; s++ {
		xs := q.RawRowView(s)
		w := []int64{3, -1, 2, -3, 1, -2, 3, -1}
		act := make([]int64, 50)
		for o := 0; o < 2; o++ {
			for p := 0; p < 5; p++ {
				for qq := 0; qq < 5; qq++ {
					var acc int64
					for i := 0; i < 2; i++ {
						for j := 0; j < 2; j++ {
							y, xx := p-1+2*i, qq-1+2*j
							if y < 0 || y >= 5 || xx < 0 || xx >= 5 {
								continue // the padding reads the zero point, 0
							}
							acc += w[o*4+i*2+j] * int64(xs[(o*5+y)*5+xx]) // group o reads channel o
						}
					}
					e := (o*5+p)*5 + qq
					if got := int64(accs[0].At(s, e)); got != acc {
						t.Fatalf("sample %d conv acc %d: %d, want %d", s, e, got, acc)
					}
					v := float64(acc) + []float64{0.5, -1}[o]
					if v < 0 {
						v *= 0.25
					}
					act[e] = wq.Quantize(v)
					if got := int64(outs[0].At(s, e)); got != act[e] {
						t.Fatalf("sample %d TLU %d: %d, want Q(leaky(%d + b)) = %d", s, e, got, acc, act[e])
					}
				}
			}
		}
		pooled := make([]int64, 8)
		for c2 := 0; c2 < 2; c2++ {
			for p := 0; p < 2; p++ {
				for qq := 0; qq < 2; qq++ {
					m := int64(math.MinInt64)
					for i := 0; i < 2; i++ {
						for j := 0; j < 2; j++ {
							m = max(m, act[(c2*5+2*p+i)*5+2*qq+j])
						}
					}
					pooled[(c2*2+p)*2+qq] = m
				}
			}
		}
		requant := make([]int64, 8)
		for j, m := range pooled {
			if int64(outs[1].At(s, j)) != m || int64(accs[1].At(s, j)) != m {
				t.Fatalf("sample %d max %d: %v, want %d", s, j, outs[1].At(s, j), m)
			}
			// The identity TLU: Q'(dequantized maximum).
			requant[j] = req.Quantizer.Quantize(wq.Dequantize(m))
			if got := int64(outs[2].At(s, j)); got != requant[j] {
				t.Fatalf("sample %d requantized max %d: %d, want %d", s, j, got, requant[j])
			}
		}
		fw := net.Layers[4].(*circuit.Linear).W
		for o := 0; o < 3; o++ {
			var acc int64
			for i, m := range requant {
				acc += int64(fw[o*8+i]) * m
			}
			if got := int64(accs[3].At(s, o)); got != acc {
				t.Fatalf("sample %d output %d: %d, want %d", s, o, got, acc)
			}
		}
	}
}

// allLayersNet uses every layer: a dilated convolution, a leaky ReLU, a max pool, a
// grouped convolution fed straight to a max pool (an identity TLU between), a tanh on
// the maxima, and GELU and sigmoid between linear layers.
func allLayersNet(rng *rand.Rand) *circuit.Network {
	fill := func(w []float64, fan int) {
		a := math.Sqrt(6 / float64(fan))
		for j := range w {
			w[j] = a * (2*rng.Float64() - 1)
		}
	}
	c1 := &circuit.Conv2d{OutC: 4, InC: 2, KH: 3, KW: 3, Stride: 1, Pad: 2, InH: 8, InW: 8, Dilation: 2,
		W: make([]float64, 4*2*9), B: make([]float64, 4)}
	c2 := &circuit.Conv2d{OutC: 4, InC: 4, KH: 3, KW: 3, Stride: 1, Pad: 1, InH: 4, InW: 4, Groups: 2,
		W: make([]float64, 4*2*9), B: make([]float64, 4)}
	f1 := &circuit.Linear{Out: 6, In: 16, W: make([]float64, 96), B: make([]float64, 6)}
	f2 := &circuit.Linear{Out: 6, In: 6, W: make([]float64, 36), B: make([]float64, 6)}
	f3 := &circuit.Linear{Out: 3, In: 6, W: make([]float64, 18), B: make([]float64, 3)}
	fill(c1.W, 18)
	fill(c2.W, 18)
	fill(f1.W, 16)
	fill(f2.W, 6)
	fill(f3.W, 6)
	for j := range f3.W {
		f3.W[j] *= 8 // sigmoid outputs vary little: spread the logits
	}
	for _, b := range [][]float64{c1.B, c2.B, f1.B, f2.B, f3.B} {
		for j := range b {
			b[j] = 0.2 * (2*rng.Float64() - 1)
		}
	}
	return &circuit.Network{InSize: 128, Layers: []circuit.Layer{
		c1, circuit.Activation{Func: circuit.LeakyReLU, Alpha: 0.1}, &circuit.MaxPool2d{K: 2, Stride: 2, C: 4, InH: 8, InW: 8},
		c2, &circuit.MaxPool2d{K: 2, Stride: 2, C: 4, InH: 4, InW: 4}, circuit.Activation{Func: circuit.Tanh},
		circuit.Flatten{}, f1, circuit.Activation{Func: circuit.GELU}, f2, circuit.Activation{Func: circuit.Sigmoid}, f3,
	}}
}

// centerLogits shifts the last layer's biases so that every class's mean logit on x is
// 0: a random network then predicts every class for some samples.
func centerLogits(net *circuit.Network, x *mat.Dense) {
	logits := net.Forward(x)
	r, c := logits.Dims()
	last := net.Layers[len(net.Layers)-1].(*circuit.Linear)
	for j := 0; j < c; j++ {
		mean := 0.0
		for i := 0; i < r; i++ {
			mean += logits.At(i, j)
		}
		last.B[j] -= mean / float64(r)
	}
}

// reference runs the circuit from its exported description on quantized inputs:
// accumulators from Terms, TLUs from their integer tables (rounding, offset, negacyclic
// half), max pools as the plain maximum of each window. It returns every layer's output
// (for the output layer, its accumulators).
func reference(t *testing.T, c *circuit.Circuit, q *mat.Dense) [][][]int64 {
	t.Helper()
	r, _ := q.Dims()
	outs := make([][][]int64, len(c.Layers))
	for s := 0; s < r; s++ {
		in := make([]int64, c.InSize())
		for j, v := range q.RawRowView(s) {
			in[j] = int64(v)
		}
		for i, l := range c.Layers {
			var next []int64
			switch {
			case l.Op == "maxpool":
				for j := 0; ; j++ {
					win, _, err := c.MaxPoolWindow(i, j)
					if err != nil {
						break
					}
					m := int64(math.MinInt64)
					for _, at := range win {
						m = max(m, in[at])
					}
					next = append(next, m)
				}
			default:
				for j := 0; ; j++ {
					var acc int64
					k, err := c.Terms(i, j, func(input int, w int64) { acc += w * in[input] })
					if err != nil {
						break
					}
					acc += k
					if l.Output {
						next = append(next, acc)
						continue
					}
					tab, err := c.TLUTable(i, j)
					if err != nil {
						t.Fatal(err)
					}
					u := (circuit.RoundLSBs(acc, l.LSBsRemoved)>>l.LSBsRemoved + c.IndexOffset(i)) & (int64(1)<<(l.TLUBits+1) - 1)
					if size := int64(len(tab)); u < size {
						next = append(next, tab[u])
					} else {
						next = append(next, -tab[u-size])
					}
				}
			}
			outs[i] = append(outs[i], next)
			in = next
		}
	}
	return outs
}

// TestAllLayersCircuit compiles a network with every new layer and checks the error-free
// circuit against the reference, the TLU counts and widths, that large error rates
// change outputs, that parameters are found (each max pool in its input's partition)
// and that the estimate runs a max pool's K² comparisons as rounds.
func TestAllLayersCircuit(t *testing.T) {
	rng := rand.New(rand.NewPCG(91, 92))
	net := allLayersNet(rng)
	x := randomData(rng, 300, net.InSize)
	centerLogits(net, x)
	for _, cfg := range []circuit.Config{
		{NWBits: 3, NABits: 3},
		{NWBits: 4, NABits: 3, RoundingThresholdBits: 5},
	} {
		c, err := circuit.Compile(net, x, cfg)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, l := range c.Layers {
			names = append(names, l.Name+"/"+l.Activation)
		}
		want := "conv1/leaky_relu maxpool1/max maxpool1_identity/identity conv2/identity maxpool2/max maxpool2_tanh/tanh fc1/gelu fc2/sigmoid fc3/"
		if got := strings.Join(names, " "); got != want {
			t.Fatalf("layers %s, want %s", got, want)
		}
		L := c.Layers
		// conv1: 4×8×8; maxpool1 → 4×4×4, 4 comparisons each (K², as Concrete runs
		// them), requantized one TLU each; maxpool2 → 4×2×2, whose tanh also requantizes.
		if L[1].TLUCount != 4*4*4*4 || L[2].TLUCount != 64 || L[4].TLUCount != 4*2*2*4 || L[5].TLUCount != 16 {
			t.Errorf("TLU counts %d %d %d %d, want 256 64 64 16", L[1].TLUCount, L[2].TLUCount, L[4].TLUCount, L[5].TLUCount)
		}
		// Signed quantizers for the functions with negative outputs, unsigned for sigmoid.
		if !L[0].Quantizer.Signed || !L[5].Quantizer.Signed || !L[6].Quantizer.Signed || L[7].Quantizer.Signed {
			t.Errorf("quantizers: leaky %+v tanh %+v gelu %+v sigmoid %+v", L[0].Quantizer, L[5].Quantizer, L[6].Quantizer, L[7].Quantizer)
		}
		// Widths: the max pools compare 3-bit values at 4 bits, and the TLUs that read
		// the maxima (whose range needs 3) read 4, unrounded.
		for _, i := range []int{1, 2, 4, 5} {
			if L[i].AccumulatorBits != 4 || L[i].TLUBits != 4 || L[i].LSBsRemoved != 0 {
				t.Errorf("%s: %d bits, TLU %d, %d removed; want 4, 4, 0", L[i].Name, L[i].AccumulatorBits, L[i].TLUBits, L[i].LSBsRemoved)
			}
		}

		q := c.QuantizeInputs(x)
		ref := reference(t, c, q)
		accs, outs := c.TLUOutputs(q)
		for i := range c.Layers {
			got := outs[i]
			if c.Layers[i].Output {
				got = accs[i]
			}
			for s := range ref[i] {
				for j, v := range ref[i][s] {
					if int64(got.At(s, j)) != v {
						t.Fatalf("%+v layer %s sample %d element %d: circuit %v, reference %d", cfg, c.Layers[i].Name, s, j, got.At(s, j), v)
					}
				}
			}
		}
		// Label each sample with the reference's prediction: the error-free simulation must
		// agree on all of them.
		last := ref[len(ref)-1]
		y := make([]int, len(last))
		for s, acc := range last {
			row := mat.NewDense(1, len(acc), nil)
			for j, v := range acc {
				row.Set(0, j, float64(v))
			}
			lg := c.Logits(row).RawRowView(0)
			for j := range lg {
				if lg[j] > lg[y[s]] {
					y[s] = j
				}
			}
		}
		res, err := c.Simulate(x, y, nil, 1)
		if err != nil {
			t.Fatal(err)
		}
		if res.QuantizedAccuracy != 1 || res.Accuracy != 1 || res.Changed != 0 {
			t.Errorf("%+v: error-free simulation accuracy %v / %v, changed %d; want 1, 1, 0", cfg, res.QuantizedAccuracy, res.Accuracy, res.Changed)
		}
		for _, l := range res.Layers {
			if l.Overflows != 0 {
				t.Errorf("%+v: layer %s has %d overflows on its calibration data", cfg, l.Name, l.Overflows)
			}
		}
		if want := int64(300 * L[1].TLUCount); res.Layers[1].Evaluations != want {
			t.Errorf("maxpool1 evaluations %d, want %d", res.Layers[1].Evaluations, want)
		}

		// A large error rate changes comparison outputs and predictions.
		noise := circuit.UniformNoise(c, 0.05)
		res, err = c.Simulate(x, y, &noise, 7)
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range []int{1, 4} {
			l := res.Layers[i]
			if l.Shifts == 0 || l.OutputErrors == 0 || math.Abs(float64(l.Shifts)-l.ExpectedShifts) > 5*math.Sqrt(l.ExpectedShifts) {
				t.Errorf("%s: %d shifts (expected %.0f), %d changed outputs", l.Name, l.Shifts, l.ExpectedShifts, l.OutputErrors)
			}
		}
		if res.Changed == 0 || res.Accuracy >= 1 {
			t.Errorf("p_error 0.05: %d predictions changed, accuracy %v", res.Changed, res.Accuracy)
		}
	}
}

// TestAllLayersParams chooses parameters for the network with every new layer, checks
// the max pools' decodings in the graph and runs the estimate.
func TestAllLayersParams(t *testing.T) {
	rng := rand.New(rand.NewPCG(91, 92))
	net := allLayersNet(rng)
	x := randomData(rng, 300, net.InSize)
	centerLogits(net, x)
	// Unrounded accumulators: conv1's TLUs are wider than maxpool1's 3-bit comparisons.
	c, err := circuit.Compile(net, x, circuit.Config{NWBits: 3, NABits: 2})
	if err != nil {
		t.Fatal(err)
	}
	if c.Layers[0].TLUBits == c.Layers[1].TLUBits || c.Layers[1].TLUBits != 3 || c.Layers[2].TLUBits != 3 {
		t.Fatalf("conv1 at %d bits, maxpool1 at %d, its requantization at %d", c.Layers[0].TLUBits, c.Layers[1].TLUBits, c.Layers[2].TLUBits)
	}
	o := newOptimizer(t)
	for _, strategy := range []fhe.Strategy{fhe.MultiParameter, fhe.MonoParameter} {
		pc := circuit.ParamsConfig{PError: 1e-6, Strategy: strategy}
		g, dec, err := c.Graph(pc)
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range []int{1, 4} {
			d := g.Decodings[dec[i][0]]
			if len(dec[i]) != 1 || d.Precision != c.Layers[i].TLUBits || d.Count != c.Layers[i].TLUCount || d.Src != d.Dst {
				t.Errorf("%s decoding %+v", c.Layers[i].Name, d)
			}
			// Inputs are TLU outputs (ν = 1): a difference has 2·1 + 1 = 3.
			if d.BR[d.Src] != 3 || d.Fresh[d.Src] != 0 {
				t.Errorf("%s noise coefficients %v %v, want 3 and 0", c.Layers[i].Name, d.BR, d.Fresh)
			}
		}
		// The requantization of maxpool1 reads its maxima (a TLU output plus an input
		// each): twice a bootstrap's noise; conv2 reads TLU outputs again.
		if d := g.Decodings[dec[2][0]]; len(dec[2]) != 1 || c.Layers[2].Norm2 != 1 || d.BR[d.Src] != 2 {
			t.Errorf("maxpool1_identity decoding %+v, want coefficient 2", d)
		}
		d := g.Decodings[dec[3][len(dec[3])-1]]
		if n2 := float64(c.Layers[3].Norm2 * c.Layers[3].Norm2); d.BR[d.Src] != n2+float64(c.Layers[3].Extractions) {
			t.Errorf("conv2 coefficient %v, want %v + %d", d.BR[d.Src], n2, c.Layers[3].Extractions)
		}
		sol, err := c.ChooseParams(o, pc)
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range []int{1, 4} {
			if lp := sol.Layers[i]; lp.Partition != lp.InputPartition || lp.Partition != sol.Layers[i-1].Partition {
				t.Errorf("%s in partition %d, inputs in %d, previous layer in %d", lp.Name, lp.Partition, lp.InputPartition, sol.Layers[i-1].Partition)
			}
		}
		if strategy == fhe.MultiParameter {
			// One partition per precision of the layers other than the max pools, which
			// join their inputs' partition whatever their own precision.
			parts, n := c.Partitions(strategy)
			precs := map[int]bool{}
			for i, l := range c.Layers[:c.TLULayers()] {
				if l.Op != "maxpool" {
					precs[l.TLUBits] = true
				} else if parts[i] != parts[i-1] {
					t.Errorf("%s in partition %d, its input in %d", l.Name, parts[i], parts[i-1])
				}
			}
			// maxpool1 (3 bits) is in conv1's partition, not in that of 3-bit TLUs.
			if n != len(precs) || n < 2 || parts[1] != parts[0] || parts[1] == parts[2] {
				t.Errorf("partitions %v (%d) for precisions %v", parts, n, precs)
			}
		}
		noise, err := c.Noise(sol)
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.Simulate(x, make([]int, 300), &noise, 3)
		if err != nil {
			t.Fatal(err)
		}
		// In conv1's wider partition, maxpool1's 3-bit comparisons have room to spare.
		if !(res.Layers[1].PError <= 1e-6) || sol.Layers[1].PError > 1e-6 {
			t.Errorf("maxpool1 p_error %v (solution %v) under the chosen sets", res.Layers[1].PError, sol.Layers[1].PError)
		}
		timing := complexityTiming{msPerOp: 1e-6}
		for _, cores := range []int{1, 3} {
			lat, err := c.Estimate(sol, timing, cores)
			if err != nil {
				t.Fatal(err)
			}
			ll := lat.Layers[1]
			// maxpool1: 64 outputs, 4 rounds of 64 independent TLUs, in its inputs'
			// partition (no keyswitch between partitions).
			single := timing.PBSMillis(sol.Layers[1].Params)
			rounds, rest := 64/cores, 64%cores
			want := 0.0
			if rounds > 0 {
				want += float64(rounds) * timing.ParallelMillis(sol.Layers[1].Params, cores)
			}
			if rest > 0 {
				want += timing.ParallelMillis(sol.Layers[1].Params, rest)
			}
			want *= 4
			if math.Abs(ll.TLUMS-want) > 1e-9*want || ll.PBSCount != 256 || ll.PBSMS != single || ll.LevelledMS <= 0 {
				t.Errorf("cores %d: maxpool1 %+v, want TLU ms %v", cores, ll, want)
			}
			if lat.TLUCount != c.TLUCount() || lat.PBSCount != c.PBSCount() {
				t.Errorf("latency counts %d %d, circuit %d %d", lat.TLUCount, lat.PBSCount, c.TLUCount(), c.PBSCount())
			}
		}
	}
}

// TestNewLayersFloatForward checks the float network's new layers against direct
// formulas on a small input.
func TestNewLayersFloatForward(t *testing.T) {
	x := mat.NewDense(1, 4, []float64{-2, -0.5, 0.5, 3})
	for _, tc := range []struct {
		a    circuit.Activation
		want func(float64) float64
	}{
		{circuit.Activation{Func: circuit.LeakyReLU, Alpha: 0.3}, func(v float64) float64 { return max(v, 0.3*v) }},
		{circuit.Activation{Func: circuit.Sigmoid}, func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }},
		{circuit.Activation{Func: circuit.Tanh}, math.Tanh},
		{circuit.Activation{Func: circuit.GELU}, func(v float64) float64 { return v / 2 * (1 + math.Erf(v/math.Sqrt2)) }},
	} {
		net := &circuit.Network{InSize: 4, Layers: []circuit.Layer{tc.a}}
		y := net.Forward(x)
		for j, v := range x.RawRowView(0) {
			if got, want := y.At(0, j), tc.want(v); math.Abs(got-want) > 1e-15 {
				t.Errorf("%s(%v) = %v, want %v", tc.a.Func, v, got, want)
			}
		}
	}
	mp := &circuit.Network{InSize: 8, Layers: []circuit.Layer{&circuit.MaxPool2d{K: 2, Stride: 1, C: 2, InH: 2, InW: 2}}}
	if y := mp.Forward(mat.NewDense(1, 8, []float64{1, -4, 3, 2, -1, -2, -3, -0.5})); y.At(0, 0) != 3 || y.At(0, 1) != -0.5 {
		t.Errorf("max pool %v, want [3 -0.5]", y.RawRowView(0))
	}
}

// TestNewLayersBadNetwork: unknown activations and groups that do not divide the
// channels are refused naming the layer.
func TestNewLayersBadNetwork(t *testing.T) {
	for _, tc := range []struct {
		net  *circuit.Network
		want string
	}{
		{&circuit.Network{InSize: 2, Layers: []circuit.Layer{circuit.Activation{Func: "swish"}}}, `layer 0 (swish): activation function "swish" is not supported`},
		{&circuit.Network{InSize: 2, Layers: []circuit.Layer{circuit.Activation{Func: circuit.LeakyReLU, Alpha: math.Inf(1)}}}, "alpha +Inf"},
		{&circuit.Network{InSize: 27, Layers: []circuit.Layer{&circuit.Conv2d{OutC: 2, InC: 3, KH: 1, KW: 1, Stride: 1, InH: 3, InW: 3, Groups: 2,
			W: make([]float64, 2), B: make([]float64, 2)}}}, "2 groups do not divide 3 input"},
		{&circuit.Network{InSize: 9, Layers: []circuit.Layer{&circuit.Conv2d{OutC: 1, InC: 1, KH: 3, KW: 3, Stride: 1, InH: 3, InW: 3, Dilation: 2,
			W: make([]float64, 9), B: make([]float64, 1)}}}, "dilated 5×5"},
		{&circuit.Network{InSize: 8, Layers: []circuit.Layer{&circuit.MaxPool2d{K: 2, Stride: 2, C: 1, InH: 2, InW: 2}}}, "takes [1 2 2] = 4 inputs, gets 8"},
	} {
		err := tc.net.Validate()
		if !errors.Is(err, circuit.ErrNetwork) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want ErrNetwork saying %q", err, tc.want)
		}
	}
}

// TestMaxPoolFirstAndLast: a max pool on the circuit's inputs runs at their partition
// with fresh-encryption noise (2 fresh + 1 bootstrap per difference), the TLU after it
// carries a fresh and a bootstrap noise per input, and a max pool whose maxima are the
// outputs gives the output its width.
func TestMaxPoolFirstAndLast(t *testing.T) {
	rng := rand.New(rand.NewPCG(61, 62))
	fc := &circuit.Linear{Out: 3, In: 8, W: make([]float64, 24), B: make([]float64, 3)}
	for i := range fc.W {
		fc.W[i] = rng.NormFloat64()
	}
	first := &circuit.Network{InSize: 32, Layers: []circuit.Layer{
		&circuit.MaxPool2d{K: 2, Stride: 2, C: 2, InH: 4, InW: 4}, circuit.Flatten{}, fc, circuit.ReLU{},
		&circuit.Linear{Out: 3, In: 3, W: []float64{1, -1, 0.5, -0.5, 1, 1, 0.3, 0.2, -1}, B: make([]float64, 3)},
	}}
	x := randomData(rng, 200, 32)
	c, err := circuit.Compile(first, x, circuit.Config{NWBits: 3, NABits: 3, NInputBits: 3})
	if err != nil {
		t.Fatal(err)
	}
	if c.Layers[0].Name != "maxpool1" || c.Layers[1].Name != "maxpool1_identity" || c.Layers[0].AccumulatorBits != 4 ||
		c.Layers[1].AccumulatorBits != 4 {
		t.Fatalf("layers %+v", c.Layers[:2])
	}
	g, dec, err := c.Graph(circuit.ParamsConfig{PError: 1e-6})
	if err != nil {
		t.Fatal(err)
	}
	d0, d1 := g.Decodings[dec[0][0]], g.Decodings[dec[1][0]]
	if d0.BR[0] != 1 || d0.Fresh[0] != 2 {
		t.Errorf("maxpool1 coefficients %v %v, want 1 and 2", d0.BR, d0.Fresh)
	}
	if d1.BR[d1.Src] != 1 || d1.Fresh[d1.Src] != 1 {
		t.Errorf("maxpool1_identity coefficients %v %v, want 1 and 1", d1.BR, d1.Fresh)
	}
	sol, err := c.ChooseParams(newOptimizer(t), circuit.ParamsConfig{PError: 1e-6})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Noise(sol); err != nil {
		t.Fatal(err)
	}

	last := &circuit.Network{InSize: 32, Layers: []circuit.Layer{fc2(rng), circuit.Activation{Func: circuit.Sigmoid},
		&circuit.MaxPool2d{K: 2, Stride: 2, C: 2, InH: 2, InW: 2}, circuit.Flatten{}}}
	c, err = circuit.Compile(last, x, circuit.Config{NWBits: 3, NABits: 4, NInputBits: 3})
	if err != nil {
		t.Fatal(err)
	}
	out := c.Layers[2]
	if !out.Output || out.Name != "output" || out.AccumulatorBits != 5 || c.Layers[1].AccumulatorBits != 5 || c.OutSize() != 2 {
		t.Errorf("max pool %+v, output %+v: want both at 4 + 1 bits", c.Layers[1], out)
	}
}

// fc2 is a linear layer 32 → 8 with random weights.
func fc2(rng *rand.Rand) *circuit.Linear {
	l := &circuit.Linear{Out: 8, In: 32, W: make([]float64, 256), B: make([]float64, 8)}
	for i := range l.W {
		l.W[i] = rng.NormFloat64() / 4
	}
	return l
}
