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
// largest magnitude is 3 (n_w_bits 3 gives scale 1), inputs 0..7 (3 bits, scale 1), and
// ReLU outputs 0..31 (5 bits, scale 1) on the calibration rows below.
func handNet() (*circuit.Network, *mat.Dense) {
	net := &circuit.Network{InSize: 2, Layers: []circuit.Layer{
		&circuit.Linear{Out: 2, In: 2, W: []float64{3, -1, 2, 0}, B: []float64{10, -2}},
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
	if len(c.Layers) != 2 || c.TLULayers() != 1 || c.PBSCount() != 2 {
		t.Fatalf("layers %+v", c.Layers)
	}
	l0, l1 := c.Layers[0], c.Layers[1]
	want0 := circuit.LayerInfo{Name: "fc1", Activation: "relu", TLUCount: 2, AccMin: -2, AccMax: 31, AccumulatorBits: 6,
		Signed: true, TLUBits: 6, Norm2: 4, Log2Norm2: 2, LevelledOps: 4, SumSize: 2,
		Quantizer: circuit.Quantizer{Bits: 5, Scale: 1}, Scale: 1}
	if l0 != want0 {
		t.Errorf("layer 0\n got %+v\nwant %+v", l0, want0)
	}
	// Output layer: accumulators −70..69 need 8 signed bits; row norms √10 and √13 → 4.
	want1 := circuit.LayerInfo{Name: "fc2", Output: true, AccMin: -70, AccMax: 69, AccumulatorBits: 8, Signed: true,
		Norm2: 4, Log2Norm2: 2, LevelledOps: 4, Scale: 1}
	if l1 != want1 {
		t.Errorf("layer 1\n got %+v\nwant %+v", l1, want1)
	}
	accs, outs := c.TLUOutputs(c.QuantizeInputs(calib))
	wantAcc1 := []float64{10, -2, 24, 12, 31, 12, 3, -2, 14, 4}
	wantOut1 := []float64{10, 0, 24, 12, 31, 12, 3, 0, 14, 4}
	wantAcc2 := []float64{12, -31, 62, -49, 69, -70, 5, -10, 28, -35}
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
}

func TestCompileHandBuiltRounding(t *testing.T) {
	net, calib := handNet()
	c, err := circuit.Compile(net, calib, circuit.Config{NWBits: 3, NABits: 5, NInputBits: 3, RoundingThresholdBits: 4})
	if err != nil {
		t.Fatal(err)
	}
	l0 := c.Layers[0]
	// L = 6 > P = 4: t = 2; the rounded range 0..8 fits 4 unsigned bits.
	if l0.AccumulatorBits != 6 || l0.LSBsRemoved != 2 || l0.TLUBits != 4 {
		t.Fatalf("layer 0 %+v", l0)
	}
	accs, outs := c.TLUOutputs(c.QuantizeInputs(calib))
	// The activation quantizer is fitted to relu(round(acc)): largest 32.
	q := circuit.NewQuantizer(5, 0, 32)
	if l0.Quantizer != q {
		t.Fatalf("quantizer %+v, want %+v", l0.Quantizer, q)
	}
	for i, a := range accs[0].RawMatrix().Data {
		want := float64(q.Quantize(math.Max(0, float64(circuit.RoundLSBs(int64(a), 2)))))
		if got := outs[0].RawMatrix().Data[i]; got != want {
			t.Errorf("TLU output %d: acc %v → %v, want %v", i, a, got, want)
		}
	}
	// Rounding drops bits: the TLU stays at P bits even when the rounded maximum would
	// overflow them (31 rounds up to 32 = 2^5 with t = 1, so t becomes 2 for P = 5).
	c5, err := circuit.Compile(net, calib, circuit.Config{NWBits: 3, NABits: 5, NInputBits: 3, RoundingThresholdBits: 5})
	if err != nil {
		t.Fatal(err)
	}
	// −2..31 with t = 1 is −1..16, 6 signed bits > 5; t = 2 gives 0..8.
	if l := c5.Layers[0]; l.TLUBits != 5 || l.LSBsRemoved != 2 {
		t.Fatalf("P=5: %+v", l)
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
	q := circuit.NewQuantizer(8, -1, 1)
	if q.Scale != 2.0/255 || q.ZeroPoint != 128 { // round(127.5) to even
		t.Fatalf("%+v", q)
	}
	for _, tc := range []struct {
		x    float64
		want int64
	}{{-5, 0}, {-1, 1}, {0, 128}, {1, 255}, {3, 255}, {math.NaN(), 0}} {
		if got := q.Quantize(tc.x); got != tc.want {
			t.Errorf("Quantize(%v) = %d, want %d", tc.x, got, tc.want)
		}
	}
	if one := circuit.NewQuantizer(4, 2.5, 2.5); one.Scale != 2.5 || one.ZeroPoint != 0 || one.Quantize(2.5) != 1 {
		t.Errorf("constant range: %+v", one)
	}
	w, s := circuit.QuantizeWeights([]float64{0.5, -1, 0, 0.26}, 3)
	if s != 1.0/3 || w[0] != 2 || w[1] != -3 || w[2] != 0 || w[3] != 1 {
		t.Errorf("weights %v scale %v", w, s)
	}
	w, s = circuit.QuantizeWeights([]float64{0.5, -1, 0, 0.4}, 1)
	if s != 1 || w[0] != 1 || w[1] != -1 || w[2] != 0 || w[3] != 0 {
		t.Errorf("1-bit weights %v scale %v", w, s)
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
		{"17 rounding bits", circuit.Config{NWBits: 4, NABits: 4, RoundingThresholdBits: 17}},
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
