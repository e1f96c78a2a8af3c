package circuit_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fhetune/fhetune/fhe"
	"github.com/fhetune/fhetune/fhe/circuit"
	"gonum.org/v1/gonum/mat"
)

// handNet is a two-layer network whose quantization is exact: integer weights whose
// largest magnitude is 3 and whose distribution passes Concrete ML's symmetry check
// (n_w_bits 3 gives scale 1), inputs 0..7 (3 unsigned bits, scale 1), and ReLU outputs
// 0..31 (5 bits, scale 1) on the calibration rows below.
func handNet() (*circuit.Network, *mat.Dense) {
	net := &circuit.Network{InSize: 2, Layers: []circuit.Layer{
		&circuit.Linear{Out: 2, In: 2, W: []float64{3, -1, 2, -3}, B: []float64{10, -2}},
		circuit.ReLU{},
		&circuit.Linear{Out: 2, In: 2, W: []float64{1, 3, -3, 2}, B: []float64{2, -1}},
	}}
	calib := mat.NewDense(5, 2, []float64{0, 0, 7, 7, 7, 0, 0, 7, 3, 5})
	return net, calib
}

func TestCompileHandBuilt(t *testing.T) {
	net, calib := handNet()
	c, err := circuit.Compile(net, calib, circuit.Config{NWBits: 3, NABits: 5, NInputBits: 3})
	if err != nil {
		t.Fatal(err)
	}
	if c.Input != (circuit.Quantizer{Bits: 3, Scale: 1, ZeroPoint: 0}) {
		t.Fatalf("input quantizer %+v", c.Input)
	}
	if len(c.Layers) != 2 || c.TLULayers() != 1 || c.PBSCount() != 2 || c.TLUCount() != 2 {
		t.Fatalf("layers %+v", c.Layers)
	}
	l0, l1 := c.Layers[0], c.Layers[1]
	// The accumulator is W·x alone (Concrete ML's Gemm): −21..21, 6 signed bits; the
	// biases 10 and −2 are applied in the TLU. Row norms √10 and √13 → 4.
	want0 := circuit.LayerInfo{Name: "fc1", Op: "dense", Activation: "relu", TLUCount: 2, AccMin: -21, AccMax: 21, AccumulatorBits: 6,
		Signed: true, TLUBits: 6, Norm2: 4, Log2Norm2: 2, LevelledOps: 4, SumSize: 2,
		Quantizer: circuit.Quantizer{Bits: 5, Scale: 1}, Scale: 1}
	if l0 != want0 {
		t.Errorf("layer 0\n got %+v\nwant %+v", l0, want0)
	}
	// Output layer: accumulators −72..67 need 8 signed bits; row norms √10 and √13 → 4.
	want1 := circuit.LayerInfo{Name: "fc2", Op: "dense", Output: true, AccMin: -72, AccMax: 67, AccumulatorBits: 8, Signed: true,
		Norm2: 4, Log2Norm2: 2, LevelledOps: 4, SumSize: 2, Scale: 1}
	if l1 != want1 {
		t.Errorf("layer 1\n got %+v\nwant %+v", l1, want1)
	}
	accs, outs := c.TLUOutputs(c.QuantizeInputs(calib))
	wantAcc1 := []float64{0, 0, 14, -7, 21, 14, -7, -21, 4, -9}
	wantOut1 := []float64{10, 0, 24, 0, 31, 12, 3, 0, 14, 0}
	wantAcc2 := []float64{10, -30, 24, -72, 67, -69, 3, -9, 14, -42}
	for name, pair := range map[string][2][]float64{
		"acc1": {accs[0].RawMatrix().Data, wantAcc1},
		"out1": {outs[0].RawMatrix().Data, wantOut1},
		"acc2": {accs[1].RawMatrix().Data, wantAcc2},
	} {
		for i := range pair[1] {
			if pair[0][i] != pair[1][i] {
				t.Errorf("%s = %v, want %v", name, pair[0], pair[1])
				break
			}
		}
	}
	// The client adds the output biases when it dequantizes: logits acc + (2, −1).
	if l := c.Logits(accs[1]); l.At(0, 0) != 12 || l.At(0, 1) != -31 {
		t.Errorf("logits %v", l.RawRowView(0))
	}
}

func TestCompileHandBuiltRounding(t *testing.T) {
	net, calib := handNet()
	for _, method := range []circuit.RoundingMethod{circuit.Exact, circuit.Approximate} {
		c, err := circuit.Compile(net, calib, circuit.Config{NWBits: 3, NABits: 5, NInputBits: 3, RoundingThresholdBits: 4, RoundingMethod: method})
		if err != nil {
			t.Fatal(err)
		}
		l0 := c.Layers[0]
		// L = 6 > P = 4: t = 2 LSBs removed; exact rounding pays one extraction per bit.
		wantExtr := map[circuit.RoundingMethod]int{circuit.Exact: 2, circuit.Approximate: 0}[method]
		if l0.AccumulatorBits != 6 || l0.LSBsRemoved != 2 || l0.TLUBits != 4 || l0.Extractions != wantExtr || l0.Rounding != method.String() {
			t.Fatalf("%v: layer 0 %+v", method, l0)
		}
		if c.TLUCount() != 2 || c.PBSCount() != 2*(1+wantExtr) {
			t.Errorf("%v: %d TLUs, %d bootstraps", method, c.TLUCount(), c.PBSCount())
		}
		accs, outs := c.TLUOutputs(c.QuantizeInputs(calib))
		// The activation quantizer is fitted to relu(round(acc) + b): largest 20 + 10.
		q := circuit.NewQuantizer(5, 0, 30)
		if l0.Quantizer != q {
			t.Fatalf("quantizer %+v, want %+v", l0.Quantizer, q)
		}
		bias := []float64{10, -2}
		for i, a := range accs[0].RawMatrix().Data {
			want := float64(q.Quantize(math.Max(0, float64(circuit.RoundLSBs(int64(a), 2))+bias[i%2])))
			if got := outs[0].RawMatrix().Data[i]; got != want {
				t.Errorf("TLU output %d: acc %v → %v, want %v", i, a, got, want)
			}
		}
	}
}

func TestRoundedTLUConstraints(t *testing.T) {
	// fc1 of handNet rounded from L = 6 to P = 4 bits (t = 2), norm2 4, fed by fresh
	// encryptions: extraction i reads the padding bit after a shift by 2^(6−i), carrying
	// the noise of the i extractions before it (Concrete's add_expanded_round); the TLU
	// carries the accumulator's and both extractions'.
	net, calib := handNet()
	c, err := circuit.Compile(net, calib, circuit.Config{NWBits: 3, NABits: 5, NInputBits: 3, RoundingThresholdBits: 4})
	if err != nil {
		t.Fatal(err)
	}
	g, dec, err := c.Graph(circuit.ParamsConfig{PError: 1e-3})
	if err != nil {
		t.Fatal(err)
	}
	want := []fhe.Decoding{
		{Name: "fc1 bit 0", Precision: 0, Count: 2, BR: []float64{0}, Fresh: []float64{4096 * 16}, Bootstrap: true},
		{Name: "fc1 bit 1", Precision: 0, Count: 2, BR: []float64{1024}, Fresh: []float64{1024 * 16}, Bootstrap: true},
		{Name: "fc1", Precision: 4, Count: 2, BR: []float64{2}, Fresh: []float64{16}, Bootstrap: true},
		{Name: "fc2 output", Precision: 8, Count: 2, BR: []float64{16}, Fresh: []float64{0}},
	}
	if len(g.Decodings) != len(want) || len(dec) != 2 || len(dec[0]) != 3 {
		t.Fatalf("decodings %+v", g.Decodings)
	}
	for i, d := range g.Decodings {
		w := want[i]
		if d.Name != w.Name || d.Precision != w.Precision || d.Count != w.Count || d.Bootstrap != w.Bootstrap ||
			d.BR[0] != w.BR[0] || d.Fresh[0] != w.Fresh[0] {
			t.Errorf("decoding %d\n got %+v\nwant %+v", i, d, w)
		}
	}
	if g.PBS[0] != 6 || g.KS[fhe.Switch{}] != 6 || g.Levelled[0] != 8 {
		t.Errorf("work: PBS %v, KS %v, levelled %v", g.PBS, g.KS, g.Levelled)
	}
	// The output decoding binds: without rounding, fc1's TLU reads fresh encryptions, so
	// only the 8-bit output constrains the bootstrap noise; without the output decoding
	// a cheaper set would do, whose bootstrap noise the output cannot take.
	plain, err := circuit.Compile(net, calib, circuit.Config{NWBits: 3, NABits: 5, NInputBits: 3})
	if err != nil {
		t.Fatal(err)
	}
	g, _, err = plain.Graph(circuit.ParamsConfig{PError: 1e-3})
	if err != nil {
		t.Fatal(err)
	}
	// A 12-bit output (as a wider network's would be) is 16 times tighter than the
	// 8-bit one of this circuit, which the TLU's set meets already.
	g.Decodings[1].Precision = 12
	o := newOptimizer(t)
	with, err := o.Graph(g)
	if err != nil {
		t.Fatal(err)
	}
	g2 := g
	g2.Decodings = g.Decodings[:1]
	without, err := o.Graph(g2)
	if err != nil {
		t.Fatal(err)
	}
	outBound := fhe.VarianceBound(12, 1e-3)
	vbr := func(p fhe.Params) float64 {
		v, err := p.BlindRotationVariance(fhe.DefaultSecurity)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if !(16*vbr(with.Partitions[0]) <= outBound) || !(16*vbr(without.Partitions[0]) > outBound) || !(with.Complexity > without.Complexity) {
		t.Errorf("output constraint: with %v (%.3g), without %v (%.3g), bound/16 %.3g", with.Partitions[0], vbr(with.Partitions[0]),
			without.Partitions[0], vbr(without.Partitions[0]), outBound/16)
	}
}

func TestRoundLSBs(t *testing.T) {
	for _, tc := range []struct {
		x    int64
		t    int
		want int64
	}{
		{5, 0, 5}, {-5, 0, -5},
		{2, 2, 4}, {6, 2, 8}, {1, 1, 2}, {3, 1, 4}, // ties round up
		{-2, 2, 0}, {-6, 2, -4}, {-1, 1, 0}, {-10, 2, -8}, // negative ties round up too
		{-7, 2, -8}, {-5, 2, -4}, {-3, 2, -4}, {3, 2, 4}, {5, 2, 4}, {7, 3, 8}, {-9, 3, -8},
		{1000, 4, 1008}, {-1000, 4, -992},
	} {
		if got := circuit.RoundLSBs(tc.x, tc.t); got != tc.want {
			t.Errorf("RoundLSBs(%d, %d) = %d, want %d", tc.x, tc.t, got, tc.want)
		}
		// The definition: ⌊x/2^t + ½⌋·2^t.
		if def := int64(math.Floor(float64(tc.x)/math.Exp2(float64(tc.t))+0.5)) << tc.t; def != tc.want {
			t.Errorf("table entry (%d, %d) contradicts the definition: %d", tc.x, tc.t, def)
		}
	}
}

func TestBitWidth(t *testing.T) {
	for _, tc := range []struct {
		lo, hi int64
		bits   int
		signed bool
	}{
		{0, 0, 1, false}, {0, 1, 1, false}, {0, 2, 2, false}, {0, 255, 8, false}, {3, 4, 3, false},
		{-1, 0, 1, true}, {-1, 1, 2, true}, {-4, 3, 3, true}, {-5, 3, 4, true}, {-4, 4, 4, true},
		{-128, 127, 8, true}, {-129, 0, 9, true}, {-2, 31, 6, true}, {-70, 69, 8, true},
	} {
		bits, signed := circuit.BitWidth(tc.lo, tc.hi)
		if bits != tc.bits || signed != tc.signed {
			t.Errorf("BitWidth(%d, %d) = %d, %v; want %d, %v", tc.lo, tc.hi, bits, signed, tc.bits, tc.signed)
		}
	}
}

func TestQuantizer(t *testing.T) {
	q := circuit.NewQuantizer(8, 0, 2)
	if q.Scale != 2.0/255 || q.ZeroPoint != 0 || q.Signed {
		t.Fatalf("%+v", q)
	}
	for _, tc := range []struct {
		x    float64
		want int64
	}{{-5, 0}, {1.0 / 255, 0}, {3.0 / 255, 2}, {1, 128}, {2, 255}, {3, 255}, {math.NaN(), 0}} { // rint: 0.5 → 0, 1.5 → 2, 127.5 → 128
		if got := q.Quantize(tc.x); got != tc.want {
			t.Errorf("Quantize(%v) = %d, want %d", tc.x, got, tc.want)
		}
	}
	if one := circuit.NewQuantizer(4, 2.5, 2.5); one.Scale != 2.5 || one.ZeroPoint != 0 || one.Quantize(2.5) != 1 {
		t.Errorf("constant range: %+v", one)
	}
	// Signed inputs (Concrete ML's offset 2^(n−1)): [−1, 1] on 8 bits → zero point
	// round((1·(−128) − (−1)·127)/2) = round(−0.5) = 0 (half to even), range −128..127.
	if sq := circuit.NewQuantizer(8, -1, 1); !sq.Signed || sq.ZeroPoint != 0 || sq.Quantize(-1) != -128 || sq.Quantize(1) != 127 {
		t.Errorf("signed quantizer %+v", sq)
	}
	// Symmetric weights (3rd/97th percentiles −0.93, 0.5: ratio within [1/3, 3]).
	w, wq := circuit.QuantizeWeights([]float64{0.5, -1, 0, 0.26}, 3)
	if !wq.Symmetric || wq.Scale != 1.0/3 || w[0] != 2 || w[1] != -3 || w[2] != 0 || w[3] != 1 {
		t.Errorf("weights %v quantizer %+v", w, wq)
	}
	w, wq = circuit.QuantizeWeights([]float64{0.5, -1, 0, 0.6}, 1) // rint: 0.5 → 0
	if wq.Scale != 1 || w[0] != 0 || w[1] != -1 || w[2] != 0 || w[3] != 1 {
		t.Errorf("1-bit weights %v quantizer %+v", w, wq)
	}
	// Skewed weights are quantized asymmetrically: [0, 3] on 2 bits has scale 1 and
	// zero point 0; the effective weights are q − zero point.
	w, wq = circuit.QuantizeWeights([]float64{0, 1, 2, 3, 3}, 2)
	if wq.Symmetric || wq.Scale != 1 || wq.ZeroPoint != 0 || w[3] != 3 {
		t.Errorf("asymmetric weights %v quantizer %+v", w, wq)
	}
	// [−1, 3] on 2 bits: scale 4/3, zero point rint(0.75) = 1; −1 → 0 − 1, 1 → rint(2.5) − 1.
	w, wq = circuit.QuantizeWeights([]float64{-1, 1, 3, 3, 3}, 2)
	if wq.Symmetric || wq.Scale != 4.0/3 || wq.ZeroPoint != 1 || w[0] != -1 || w[1] != 1 || w[2] != 2 {
		t.Errorf("asymmetric weights %v quantizer %+v", w, wq)
	}
}

func TestBadInput(t *testing.T) {
	net, calib := handNet()
	for _, tc := range []struct {
		name string
		cfg  circuit.Config
	}{
		{"zero w bits", circuit.Config{NWBits: 0, NABits: 4}},
		{"17 a bits", circuit.Config{NWBits: 4, NABits: 17}},
		{"negative input bits", circuit.Config{NWBits: 4, NABits: 4, NInputBits: -1}},
		{"9 rounding bits", circuit.Config{NWBits: 4, NABits: 4, RoundingThresholdBits: 9}},
		{"1 rounding bit", circuit.Config{NWBits: 4, NABits: 4, RoundingThresholdBits: 1}},
		{"rounding method", circuit.Config{NWBits: 4, NABits: 4, RoundingMethod: 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := circuit.Compile(net, calib, tc.cfg); !errors.Is(err, circuit.ErrConfig) {
				t.Fatalf("err %v, want ErrConfig", err)
			}
		})
	}
	for _, tc := range []struct {
		name string
		cfg  circuit.ParamsConfig
	}{
		{"p_error 0", circuit.ParamsConfig{PError: -0.1}},
		{"p_error 1", circuit.ParamsConfig{PError: 1}},
		{"global 1.5", circuit.ParamsConfig{GlobalPError: 1.5}},
		{"both", circuit.ParamsConfig{PError: 0.01, GlobalPError: 0.01}},
		{"strategy", circuit.ParamsConfig{PError: 0.01, Strategy: 7}},
		{"security", circuit.ParamsConfig{PError: 0.01, Security: 99}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Check(); !errors.Is(err, circuit.ErrConfig) {
				t.Fatalf("err %v, want ErrConfig", err)
			}
		})
	}
	// A wide accumulator without rounding: a layer error that names the layer and
	// suggests rounding.
	wide := randomMLP(rand.New(rand.NewPCG(1, 2)), 64, []int{32}, 4)
	x := randomData(rand.New(rand.NewPCG(3, 4)), 200, 64)
	_, err := circuit.Compile(wide, x, circuit.Config{NWBits: 12, NABits: 12})
	var le *circuit.LayerError
	if !errors.As(err, &le) || !errors.Is(err, circuit.ErrTooWide) || le.Layer != "fc1" {
		t.Fatalf("err %v, want a too-wide error for fc1", err)
	}
	if msg := err.Error(); !contains(msg, "rounding_threshold_bits") || !contains(msg, "fc1") {
		t.Errorf("message %q names no layer or remedy", msg)
	}
	if _, err := circuit.Compile(wide, x, circuit.Config{NWBits: 12, NABits: 12, RoundingThresholdBits: 6}); err != nil {
		t.Errorf("rounded: %v", err)
	}
	// Bad data and networks.
	if _, err := circuit.Compile(net, mat.NewDense(2, 3, nil), circuit.Config{NWBits: 4, NABits: 4}); !errors.Is(err, circuit.ErrData) {
		t.Errorf("wrong width: %v", err)
	}
	bad := &circuit.Network{InSize: 2, Layers: []circuit.Layer{&circuit.Linear{Out: 2, In: 3, W: make([]float64, 6), B: make([]float64, 2)}}}
	if _, err := circuit.Compile(bad, calib, circuit.Config{NWBits: 4, NABits: 4}); !errors.Is(err, circuit.ErrNetwork) {
		t.Errorf("bad network: %v", err)
	}
}

func TestNoParams(t *testing.T) {
	o, err := fhe.NewOptimizer()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	net := randomMLP(rng, 64, []int{32}, 4)
	x := randomData(rng, 300, 64)
	c, err := circuit.Compile(net, x, circuit.Config{NWBits: 6, NABits: 6})
	if err != nil {
		t.Fatal(err)
	}
	if c.Layers[0].TLUBits < 14 {
		t.Fatalf("expected a wide accumulator, got %+v", c.Layers[0])
	}
	_, err = c.ChooseParams(o, circuit.ParamsConfig{PError: 1e-9})
	var le *circuit.LayerError
	if !errors.As(err, &le) || !errors.Is(err, circuit.ErrNoParams) || !errors.Is(err, fhe.ErrNoSolution) || le.Layer != "fc1" {
		t.Fatalf("err %v, want no parameters for fc1", err)
	}
	if !contains(err.Error(), "rounding_threshold_bits") {
		t.Errorf("message %q suggests no rounding", err)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestJointPartitionsDifferFromIndependent(t *testing.T) {
	// Two TLU layers of different precisions are two partitions. Chosen as if
	// independent (fhe.Optimizer.Circuit), each layer's set assumes its inputs were
	// bootstrapped with its own set; jointly, layer 2's TLUs read layer 1's bootstrap
	// noise through a keyswitch between the partitions' keys, which the independent
	// choice does not budget.
	rng := rand.New(rand.NewPCG(61, 62))
	net := randomMLP(rng, 32, []int{24, 16}, 4)
	x := randomData(rng, 400, 32)
	c, err := circuit.Compile(net, x, circuit.Config{NWBits: 3, NABits: 2, NInputBits: 4})
	if err != nil {
		t.Fatal(err)
	}
	if c.Layers[0].TLUBits == c.Layers[1].TLUBits {
		t.Fatalf("one precision for both layers: %+v", c.Layers[:2])
	}
	o := newOptimizer(t)
	const pe = 1e-3
	sol, err := c.ChooseParams(o, circuit.ParamsConfig{PError: pe})
	if err != nil {
		t.Fatal(err)
	}
	if sol.Layers[1].InputPartition == sol.Layers[1].Partition {
		t.Fatalf("layer 2 in its input's partition: %+v", sol.Layers[1])
	}
	var groups []fhe.TLUGroup
	for _, l := range c.Layers[:2] {
		groups = append(groups, fhe.TLUGroup{Precision: l.TLUBits, Log2Norm2: l.Log2Norm2, SumSize: l.SumSize, Count: l.TLUCount})
	}
	ind, err := o.Circuit(fhe.CircuitQuery{Groups: groups, PError: pe})
	if err != nil {
		t.Fatal(err)
	}
	// Layer 2's TLU decoding under the independent sets, with the cheapest keyswitch
	// from layer 1's key that the joint search could have used: its variance.
	l2 := c.Layers[1]
	from, to := ind.Groups[0].Params, ind.Groups[1].Params
	z1, _ := from.Noise(fhe.DefaultSecurity)
	best := math.Inf(1)
	for level := 1; level <= 16; level++ {
		for b := 1; b*level <= 64; b++ {
			v, _, err := fhe.KeySwitchBetween(from, to, level, b, fhe.DefaultSecurity)
			if err == nil {
				best = min(best, v)
			}
		}
	}
	n2 := float64(l2.Norm2 * l2.Norm2)
	indVar := n2*z1.BlindRotation + best + to.ModulusSwitchVariance()
	joint := sol.Sets.Decodings[len(sol.Sets.Decodings)-2] // layer 2's TLU, before the output
	if joint.Name != l2.Name {
		t.Fatalf("decoding %q, want %q", joint.Name, l2.Name)
	}
	sameSets := sol.Layers[0].Params.Literal() == from.Literal() && sol.Layers[1].Params.Literal() == to.Literal()
	if sameSets && indVar <= joint.Bound {
		t.Errorf("joint choice %v, %v equals the independent one, which meets layer 2's bound", sol.Layers[0].Params, sol.Layers[1].Params)
	}
	if !(joint.Variance <= joint.Bound) {
		t.Errorf("joint layer 2 variance %.3g over its bound %.3g", joint.Variance, joint.Bound)
	}
	t.Logf("independent %v / %v (layer 2 variance %.3g, bound %.3g); joint %v / %v", from, to, indVar, joint.Bound,
		sol.Layers[0].Params, sol.Layers[1].Params)
}
