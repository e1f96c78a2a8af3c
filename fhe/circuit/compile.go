package circuit

import (
	"fmt"
	"math"
	"strings"

	"gonum.org/v1/gonum/mat"
)

// Bounds of every bit-width knob.
const (
	MinBits = 1
	MaxBits = 16
)

// Bounds of rounding_threshold_bits: Concrete ML accepts 2..8
// (common/utils.py, process_rounding_threshold_bits).
const (
	MinRoundingBits = 2
	MaxRoundingBits = 8
)

// exactLimit is 2^53: integers held in float64 stay exact below it.
const exactLimit = 1 << 53

// RoundingMethod is how an accumulator is rounded to its most significant bits
// (Concrete's rounding exactness).
type RoundingMethod int

const (
	// Exact rounding (Concrete ML's default) removes the LSBs one at a time, each with a
	// bit-extraction bootstrap on the whole accumulator, so the TLU sees exactly
	// ⌊v/2^t⌉ (Concrete's FHEToTFHEScalar lowering of round, and the optimizer's
	// add_expanded_round).
	Exact RoundingMethod = iota
	// Approximate rounding removes no bit: the TLU reads the accumulator at its P most
	// significant bits directly, so no extraction is paid, but near a rounding boundary
	// the noise decides: the index is off by one step, pseudo-randomly (Concrete's
	// rounding guide, "Exactness").
	Approximate
)

// String returns "exact" or "approximate".
func (m RoundingMethod) String() string {
	if m == Approximate {
		return "approximate"
	}
	return "exact"
}

// ParseRoundingMethod reads "exact" or "approximate" (any case); "" is Exact.
func ParseRoundingMethod(s string) (RoundingMethod, error) {
	switch strings.ToLower(s) {
	case "", "exact":
		return Exact, nil
	case "approximate":
		return Approximate, nil
	}
	return 0, fmt.Errorf("%w: rounding_method %q: want exact or approximate", ErrConfig, s)
}

// Config holds the quantization knobs of Compile, with Concrete ML's names.
type Config struct {
	// NWBits is n_w_bits, the bits of the weights (per layer), 1..16.
	NWBits int `json:"n_w_bits"`
	// NABits is n_a_bits, the bits of the activations (TLU outputs), 1..16.
	NABits int `json:"n_a_bits"`
	// NInputBits is n_input_bits, the bits of the quantized inputs, 1..16; 0 means NABits.
	NInputBits int `json:"n_input_bits"`
	// RoundingThresholdBits is rounding_threshold_bits P, 2..8: an accumulator wider
	// than P bits is rounded to its P most significant bits before its TLU. 0 means no
	// rounding.
	RoundingThresholdBits int `json:"rounding_threshold_bits,omitempty"`
	// RoundingMethod is rounding_threshold_bits' method: Exact (the default) or
	// Approximate.
	RoundingMethod RoundingMethod `json:"rounding_method"`
}

// WithDefaults returns c with NInputBits filled in.
func (c Config) WithDefaults() Config {
	if c.NInputBits == 0 {
		c.NInputBits = c.NABits
	}
	return c
}

// Check returns an error wrapping ErrConfig naming the first knob out of range.
func (c Config) Check() error {
	for _, k := range []struct {
		name     string
		v        int
		zeroOkay bool
	}{
		{"n_w_bits", c.NWBits, false},
		{"n_a_bits", c.NABits, false},
		{"n_input_bits", c.NInputBits, true},
	} {
		if k.zeroOkay && k.v == 0 {
			continue
		}
		if k.v < MinBits || k.v > MaxBits {
			return fmt.Errorf("%w: %s %d outside %d..%d", ErrConfig, k.name, k.v, MinBits, MaxBits)
		}
	}
	if r := c.RoundingThresholdBits; r != 0 && (r < MinRoundingBits || r > MaxRoundingBits) {
		return fmt.Errorf("%w: rounding_threshold_bits %d outside %d..%d (Concrete ML's range)", ErrConfig, r, MinRoundingBits, MaxRoundingBits)
	}
	if c.RoundingMethod != Exact && c.RoundingMethod != Approximate {
		return fmt.Errorf("%w: rounding_method %d is neither exact nor approximate", ErrConfig, int(c.RoundingMethod))
	}
	return nil
}

// Compile turns a float network into an integer circuit by post-training quantization,
// the way Concrete ML does (concrete-ml src/concrete/ml/quantization: post_training.py,
// quantized_ops.py QuantizedGemm, QuantizedConv and QuantizedAvgPool, quantizers.py):
//
//   - Inputs are quantized to n_input_bits with a quantizer fitted to the calibration
//     min/max, signed when the data has negatives ([NewQuantizer]).
//   - Each Linear and Conv2d has its weights quantized to n_w_bits ([QuantizeWeights]:
//     symmetric when the distribution is, else asymmetric). The accumulator is the
//     integer dot product Σ w·x alone; the input zero point's correction −zp·Σw and the
//     float bias are applied inside the TLU that follows, after rounding, as Concrete
//     ML's quantized Gemm does. Padding reads the input zero point (a real 0).
//   - AvgPool2d is a window sum whose result is requantized by a TLU of its own
//     (1/K², the zero point and the scale go into that TLU), as Concrete ML's
//     QuantizedAvgPool is followed by the next layer's input quantization.
//   - Each ReLU or Activation (leaky ReLU, sigmoid, tanh, GELU), with the
//     requantization to n_a_bits that follows, becomes one TLU per element computing
//     Q(f(dequantized accumulator + bias)); two levelled operations in a row get an
//     identity TLU (a requantization) between them. Activation quantizers are fitted
//     to the calibration data as it flows through the integer circuit built so far,
//     signed when the activations have negatives (leaky ReLU, tanh and GELU do), as
//     Concrete ML's are.
//   - A Conv2d with dilation or groups is the same integer dot product over the taps
//     and channels each output reads; its weight norms are per output channel.
//   - MaxPool2d is Concrete's lowering (see [MaxPool2d]): for each output, K²
//     comparisons m ← relu(m − x) + x from m = the smallest input integer, a TLU layer
//     of their own ("maxpool1", Op "maxpool", Activation "max", K² TLUs per output).
//     The maxima keep the input's quantizer (the maximum of quantized values needs no
//     requantization). The differences are signed and need one bit more than the
//     inputs, W = b + 1 bits, and Concrete makes a max pool's input, output and
//     comparisons share that width (concrete-python assign_bit_widths.py: maxpool2d
//     inputs_and_output_share_precision, inputs_require_one_more_bit), so whatever
//     reads the maxima reads W-bit values: a TLU at W bits, never rounded (Concrete ML
//     rounds only the accumulators of its mixing operations). Concrete ML's
//     QuantizedMaxPool then requantizes the maxima to an output quantizer fitted to
//     them, a univariate function that Concrete fuses into one TLU per output: here
//     the ReLU or Activation that follows the pool does it (one TLU,
//     "maxpool1_relu"), and any other layer gets an identity TLU first
//     ("maxpool1_identity"), which also carries the maxima from W bits to the width of
//     the accumulator that sums them; the output layer reads them as they are. The TLU
//     that reads the maxima carries their noise: a TLU output plus an input each.
//   - The last layer's accumulators are the outputs; the client decrypts them,
//     dequantizes them (bias included) and takes the arg max (no TLU).
//
// For each TLU layer the accumulator range over the calibration data gives its
// bit-width L ([BitWidth]). With rounding_threshold_bits P and L > P, t = L − P least
// significant bits are rounded off and the TLU takes P bits, with no extra bit against
// overflow (Concrete ML rounds with overflow_protection=False): a value rounded up past
// the top of the range lands in the bootstrap's padding half and comes back negated, as
// any out-of-range TLU input does under FHE.
//
// calib holds standardized calibration samples, one per row. Errors wrap ErrConfig,
// ErrNetwork, ErrData, or ErrTooWide in a *LayerError naming the layer (an accumulator
// wider than 16 bits without rounding, or integers beyond 2^53).
func Compile(net *Network, calib *mat.Dense, cfg Config) (*Circuit, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	sizes, err := net.sizes()
	if err != nil {
		return nil, err
	}
	if err := checkData(calib, nil, net.InSize); err != nil {
		return nil, fmt.Errorf("calibration data: %w", err)
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	r, _ := calib.Dims()
	for i := 0; i < r; i++ {
		for _, v := range calib.RawRowView(i) {
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	c := &Circuit{Input: NewQuantizer(cfg.NInputBits, lo, hi), Config: cfg, inSize: net.InSize, outSize: sizes[len(sizes)-1]}
	if net.Input != nil {
		c.Input = *net.Input
	}
	b := &builder{cfg: cfg, c: c, x: c.QuantizeInputs(calib), q: c.Input, qFixed: net.Input != nil, size: net.InSize, inSize: net.InSize, inFresh: 1}
	for _, l := range net.Layers {
		var err error
		switch l := l.(type) {
		case *Linear:
			if err = b.closeIfOp(); err == nil {
				b.fc++
				err = b.addDot(fmt.Sprintf("fc%d", b.fc), opLinear, l.W, l.B, l.Quant, convGeom{}, l.In, l.Out)
			}
		case *Conv2d:
			if err = b.closeIfOp(); err == nil {
				b.conv++
				g := l.geom()
				err = b.addDot(fmt.Sprintf("conv%d", b.conv), opConv, l.W, l.B, l.Quant, g, g.inSize(), g.outSize())
			}
		case *AvgPool2d:
			if err = b.closeIfOp(); err == nil {
				b.pool++
				b.addPool(fmt.Sprintf("pool%d", b.pool), poolGeom{l.K, l.Stride, l.C, l.InH, l.InW})
			}
		case *MaxPool2d:
			if err = b.closeIfOp(); err == nil {
				b.maxpool++
				err = b.addMaxPool(fmt.Sprintf("maxpool%d", b.maxpool), poolGeom{l.K, l.Stride, l.C, l.InH, l.InW})
			}
		case ReLU:
			err = b.close(actReLU, l.Out)
		case Activation:
			a, _ := newActivation(l.Func, l.Alpha) // checked by net.sizes
			err = b.close(a, l.Out)
		case Requant:
			err = b.close(actIdentity, &l.Out)
		case Flatten:
		}
		if err != nil {
			return nil, err
		}
		if b.maxAbs >= exactLimit {
			return nil, &LayerError{Layer: b.name, Why: fmt.Sprintf("integers reach %.3g, beyond the 2^53 that stay exact", b.maxAbs),
				Hint: "use fewer bits", Err: ErrTooWide}
		}
	}
	if err := b.closeOutput(); err != nil {
		return nil, err
	}
	if c.outSize != b.size {
		return nil, fmt.Errorf("%w: circuit ends with %d outputs, the network with %d", ErrNetwork, b.size, c.outSize)
	}
	return c, nil
}

// builder holds the state of Compile between layers.
type builder struct {
	cfg Config
	c   *Circuit
	// x holds the calibration data at the input of the current stage, as integers, and
	// q is their quantizer.
	x *mat.Dense
	q Quantizer
	// qFixed says q was fixed by a quantization-aware training (the network's), not
	// fitted here.
	qFixed bool
	// wq is the current stage's weight quantizer when a quantization-aware training
	// fixed it, and sW its weights' scale.
	wq *WeightQuant
	sW float64
	// op is the current stage's levelled operation (nil: none yet); fn dequantizes its
	// accumulators; maxAbs bounds their magnitude; norm2Sq and group describe its
	// weights per group of elements.
	op      *intOp
	fn      affine
	maxAbs  float64
	norm2Sq []int64
	group   int
	size    int
	name    string
	inSize  int
	// inBR and inFresh are the noise of the current stage's inputs (see stage).
	inBR, inFresh int64
	// poolBits is the width W of a max pool's maxima while they are the current
	// values (not yet read by a TLU), else 0.
	poolBits int

	fc, conv, pool, maxpool int
}

// closeIfOp ends the current stage with an identity TLU when it has an operation, or
// when the current values are a max pool's maxima (Concrete ML's requantization of a
// max pool's output).
func (b *builder) closeIfOp() error {
	if b.op == nil && b.poolBits == 0 {
		return nil
	}
	return b.close(actIdentity, nil)
}

// addDot starts a stage with a quantized Linear or Conv2d: its weights quantized to
// n_w_bits, or by fixed, the quantizer of a quantization-aware training, when not nil.
func (b *builder) addDot(name string, kind opKind, w, bias []float64, fixed *WeightQuant, g convGeom, in, out int) error {
	var qw []int64
	var wq WeightQuantizer
	if fixed != nil {
		qw, wq = QATWeights(w, *fixed)
	} else {
		qw, wq = QuantizeWeights(w, b.cfg.NWBits)
	}
	rows, group := out, 1
	if kind == opConv {
		rows, group = g.OutC, out/g.OutC
	}
	cols := len(qw) / rows
	op := &intOp{kind: kind, qw: qw, w: mat.NewDense(rows, cols, nil), bias: make([]float64, rows), pad: float64(b.q.ZeroPoint), conv: g, in: in, out: out}
	a := b.q.Scale * wq.Scale
	fn := affine{a: a, b: make([]float64, rows), group: group}
	norms := make([]int64, rows)
	inMax := float64(max(abs64(b.q.Min()), abs64(b.q.Max()), abs64(b.q.ZeroPoint)))
	bound := 0.0
	for o := 0; o < rows; o++ {
		row := op.w.RawRowView(o)
		var sum, sumAbs, sq int64
		for j := range row {
			q := qw[o*cols+j]
			row[j] = float64(q)
			sum += q
			sumAbs += abs64(q)
			sq += q * q
		}
		// Concrete ML: real = s_in·s_w·(Σ w·x − zp_in·Σw) + bias; an integer bias
		// (Brevitas' IntBias) joins the accumulator instead (quantized_ops.py,
		// QuantizedGemm.q_impl: numpy_q_out += q_bias.qvalues).
		fb := bias[o]
		if fixed != nil && fixed.IntBias {
			ib := IntBias(bias[o], a, fixed.BiasLimit)
			op.bias[o], fb = float64(ib), 0
		}
		fn.b[o] = a*float64(-b.q.ZeroPoint*sum) + fb
		norms[o] = sq
		bound = max(bound, float64(sumAbs)*inMax+math.Abs(op.bias[o]))
	}
	b.op, b.fn, b.maxAbs, b.norm2Sq, b.group = op, fn, bound, norms, group
	b.wq, b.sW = fixed, wq.Scale
	b.name, b.size = name, out
	return nil
}

// addPool starts a stage with a window sum.
func (b *builder) addPool(name string, g poolGeom) {
	kk := float64(g.K * g.K)
	b.op = &intOp{kind: opPool, pool: g, in: g.inSize(), out: g.outSize()}
	// Concrete ML's QuantizedAvgPool: real = (sum/K² − zp)·scale.
	b.fn = affine{a: b.q.Scale / kk, b: []float64{-b.q.Scale * float64(b.q.ZeroPoint)}, group: g.outSize()}
	b.maxAbs = kk * float64(max(abs64(b.q.Min()), abs64(b.q.Max())))
	b.norm2Sq, b.group = []int64{int64(g.K * g.K)}, g.outSize()
	b.name, b.size = name, g.outSize()
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// stageOf packs the current operation into a stage and computes its calibration
// accumulators and the layer facts shared by TLU and output layers.
func (b *builder) stageOf() (*stage, *mat.Dense, LayerInfo) {
	if b.op == nil {
		// A TLU (or the output) reads the integers themselves.
		b.fn = affine{a: b.q.Scale, b: []float64{-b.q.Scale * float64(b.q.ZeroPoint)}, group: b.size}
		b.norm2Sq, b.group = []int64{1}, b.size
		b.maxAbs = float64(max(abs64(b.q.Min()), abs64(b.q.Max())))
		if b.name == "" {
			b.name = "input"
		}
	}
	st := &stage{op: b.op, inSize: b.inSize, outSize: b.size, evals: b.size, norm2Sq: b.norm2Sq, group: b.group,
		inBR: b.inBR, inFresh: b.inFresh}
	acc := st.levelled(b.x)
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	r, _ := acc.Dims()
	for i := 0; i < r; i++ {
		for _, v := range acc.RawRowView(i) {
			a := int64(v)
			lo, hi = min(lo, a), max(hi, a)
		}
	}
	bits, signed := BitWidth(lo, hi)
	// A max pool's maxima are encoded at the width of its comparisons.
	bits = max(bits, b.poolBits)
	var sq int64
	for _, s := range b.norm2Sq {
		sq = max(sq, s)
	}
	info := LayerInfo{Name: b.name, Op: "none", AccMin: lo, AccMax: hi, AccumulatorBits: bits, Signed: signed,
		Norm2: max(1, ceilSqrt(sq)), Scale: b.fn.a}
	info.Log2Norm2 = math.Log2(float64(info.Norm2))
	if b.op != nil {
		info.Op = [...]string{"dense", "conv", "pool"}[b.op.kind]
		info.LevelledOps = b.op.macs()
	}
	info.SumSize = int((info.LevelledOps + int64(b.size) - 1) / int64(b.size))
	return st, acc, info
}

// close ends the current stage with a TLU computing act and requantizing to n_a_bits,
// or to fixed, a quantization-aware training's quantizer, when not nil.
func (b *builder) close(act activation, fixed *Quantizer) error {
	if b.op == nil && b.name != "" {
		// A TLU on a max pool's maxima: "maxpool1_relu".
		b.name += "_" + act.String()
	}
	st, acc, info := b.stageOf()
	info.Activation = act.String()
	info.TLUCount = b.size
	shift, prec := 0, info.AccumulatorBits
	if p := b.cfg.RoundingThresholdBits; p > 0 && prec > p && b.poolBits == 0 {
		// Concrete ML: lsbs_to_remove = accumulator bits − n_bits, overflow_protection off.
		shift = prec - p
	} else if t := b.powerOfTwoShift(act, fixed); t > 0 && p == 0 {
		// Unlike rounding_threshold_bits (and Concrete ML's pass, which rounds with
		// overflow_protection off), give the accumulator the bit that a value rounded
		// up past the top of its range needs (Concrete's overflow protection), so that
		// the rounding stays lossless there too.
		shift = min(t, prec-1)
		rb, _ := BitWidth(RoundLSBs(info.AccMin, shift), RoundLSBs(info.AccMax, shift))
		info.AccumulatorBits = max(info.AccumulatorBits, rb)
		prec = info.AccumulatorBits
		info.PowerOfTwo = true
	}
	if shift > 0 {
		prec -= shift
		info.Rounding = b.cfg.RoundingMethod.String()
		if b.cfg.RoundingMethod == Exact {
			info.Extractions = shift
		}
	}
	if prec > MaxBits {
		return &LayerError{Layer: info.Name, Err: ErrTooWide,
			Why:  fmt.Sprintf("accumulator needs %d bits (calibration range %d..%d), more than the %d a TLU can take", info.AccumulatorBits, info.AccMin, info.AccMax, MaxBits),
			Hint: "set rounding_threshold_bits (e.g. 6) or use fewer n_w_bits/n_a_bits"}
	}
	t := &tlu{act: act, shift: shift, precision: prec, method: b.cfg.RoundingMethod, fn: b.fn}
	if info.Signed {
		t.offset = int64(1) << (prec - 1)
	}
	if fixed != nil {
		t.outQ = *fixed
	} else {
		// Fit the activation quantizer to the calibration activations.
		flo, fhi := math.Inf(1), math.Inf(-1)
		r, _ := acc.Dims()
		for i := 0; i < r; i++ {
			for j, v := range acc.RawRowView(i) {
				f := act.apply(b.fn.real(j, float64(RoundLSBs(int64(v), shift))))
				flo, fhi = min(flo, f), max(fhi, f)
			}
		}
		t.outQ = NewQuantizer(b.cfg.NABits, flo, fhi)
	}
	t.fillTable()
	st.tlu = t
	info.LSBsRemoved, info.TLUBits, info.Quantizer = shift, prec, t.outQ
	b.c.stages = append(b.c.stages, st)
	b.c.Layers = append(b.c.Layers, info)

	b.x = t.applyClean(acc)
	b.q, b.qFixed, b.wq = t.outQ, fixed != nil, nil
	b.maxAbs = float64(max(abs64(t.outQ.Min()), abs64(t.outQ.Max()), abs64(t.outQ.ZeroPoint)))
	b.op, b.name, b.inSize = nil, "", b.size
	b.inBR, b.inFresh, b.poolBits = 1, 0, 0
	return nil
}

// powerOfTwoShift returns the bits by which Concrete ML's power-of-two pass rounds the
// current stage's accumulator before the TLU act with output quantizer out, or 0 when
// the pattern does not hold (quantization/quantized_module_passes.py,
// PowerOfTwoScalingRoundPBSAdapter): a Gemm or Conv whose input quantizer and weights
// come from a quantization-aware training, followed by a ReLU and a trained quantizer,
// with the three scales powers of two. The accumulator times s_in·s_w/s_out is the
// output integer before rounding, so rounding off t = −(log2 s_in + log2 s_w − log2 s_out)
// bits leaves exactly the bits the requantization keeps. With zero points 0 and the
// bias in the accumulator (the power-of-two training fixes both) and quantizers that
// round half up as the accumulator's rounding does, the rounded TLU gives what the
// unrounded one gives.
func (b *builder) powerOfTwoShift(act activation, out *Quantizer) int {
	if b.op == nil || b.op.kind == opPool || b.wq == nil || !b.qFixed || out == nil || act != actReLU {
		return 0
	}
	kin, ok1 := isPowerOfTwo(b.q.Scale)
	kw, ok2 := isPowerOfTwo(b.sW)
	kout, ok3 := isPowerOfTwo(out.Scale)
	if !ok1 || !ok2 || !ok3 {
		return 0
	}
	return -(kin + kw - kout)
}

// closeOutput ends the circuit with the output layer.
func (b *builder) closeOutput() error {
	if b.op == nil {
		b.name = "output"
	}
	st, _, info := b.stageOf()
	info.Output = true
	fn := b.fn
	st.out = &fn
	b.c.stages = append(b.c.stages, st)
	b.c.Layers = append(b.c.Layers, info)
	return nil
}

// addMaxPool adds a max-pool stage on the current values (b.x, quantizer b.q): K²
// comparisons per output, each a TLU on the difference m − x of the running maximum and
// an input (see maxPool). The differences span q.Min − q.Max .. q.Max − q.Min, one bit
// more than the inputs: the stage's width W, at which its inputs are encoded (the TLU
// layer before writes them there) and its maxima too.
//
// Noise: an input has variance ν (b.inBR, b.inFresh) and the running maximum, a TLU
// output plus an input, 1 + ν, so a difference has 2ν + 1 — Concrete's MANP of the
// subtraction (Dialect/FHE/Analysis/MANP.cpp Maxpool2dOp::sqMANP, and
// ConcreteOptimizer.cpp addMaxpool2d: sub_manp = √(2·input_smanp + 1)), 3 for
// bootstrapped inputs. Concrete gives every comparison that bound (the first, against
// the noiseless initial value, has less); so does the circuit. The maxima, 1 + ν, feed
// the TLU that reads them.
func (b *builder) addMaxPool(name string, g poolGeom) error {
	q := b.q
	lo, hi := q.Min()-q.Max(), q.Max()-q.Min()
	bits, _ := BitWidth(lo, hi)
	if bits > MaxBits {
		return &LayerError{Layer: name, Err: ErrTooWide,
			Why:  fmt.Sprintf("its comparisons need %d bits (differences of %d-bit inputs), more than the %d a TLU can take", bits, q.Bits, MaxBits),
			Hint: "use fewer n_a_bits"}
	}
	kk := g.K * g.K
	evals := g.outSize() * kk
	sq := 2*(b.inBR+b.inFresh) + 1
	t := &tlu{act: actReLU, fn: affine{a: 1, b: []float64{0}, group: evals}}
	t.setWidth(bits)
	st := &stage{tlu: t, pool: &maxPool{g: g, init: q.Min(), windows: g.windows()}, inSize: g.inSize(),
		outSize: g.outSize(), evals: evals, norm2Sq: []int64{sq}, group: evals, inBR: b.inBR, inFresh: b.inFresh}
	info := LayerInfo{Name: name, Op: "maxpool", Activation: "max", TLUCount: evals, AccMin: lo, AccMax: hi,
		AccumulatorBits: bits, Signed: true, TLUBits: bits, Norm2: ceilSqrt(sq), LevelledOps: 2 * int64(evals), SumSize: 2,
		Quantizer: q, Scale: q.Scale}
	info.Log2Norm2 = math.Log2(float64(info.Norm2))
	b.c.stages = append(b.c.stages, st)
	b.c.Layers = append(b.c.Layers, info)

	b.x, _ = st.activate(b.x, lo, hi)
	b.size, b.inSize, b.name, b.poolBits = g.outSize(), g.outSize(), name, bits
	b.inBR++
	return nil
}

// ceilSqrt returns ⌈√v⌉ for v ≥ 0.
func ceilSqrt(v int64) int64 {
	r := int64(math.Sqrt(float64(v)))
	for r*r < v {
		r++
	}
	for r > 0 && (r-1)*(r-1) >= v {
		r--
	}
	return r
}
