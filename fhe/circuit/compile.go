package circuit

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Bounds of every bit-width knob.
const (
	MinBits = 1
	MaxBits = 16
)

// exactLimit is 2^53: integers held in float64 stay exact below it.
const exactLimit = 1 << 53

// Config holds the quantization knobs of Compile, with Concrete ML's names.
type Config struct {
	// NWBits is n_w_bits, the bits of the weights (symmetric, per layer), 1..16.
	NWBits int `json:"n_w_bits"`
	// NABits is n_a_bits, the bits of the activations (TLU outputs), 1..16.
	NABits int `json:"n_a_bits"`
	// NInputBits is n_input_bits, the bits of the quantized inputs, 1..16; 0 means NABits.
	NInputBits int `json:"n_input_bits"`
	// RoundingThresholdBits is rounding_threshold_bits P: an accumulator wider than P bits
	// is rounded to its P most significant bits before its TLU. 0 means no rounding.
	RoundingThresholdBits int `json:"rounding_threshold_bits,omitempty"`
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
		{"rounding_threshold_bits", c.RoundingThresholdBits, true},
	} {
		if k.zeroOkay && k.v == 0 {
			continue
		}
		if k.v < MinBits || k.v > MaxBits {
			return fmt.Errorf("%w: %s %d outside %d..%d", ErrConfig, k.name, k.v, MinBits, MaxBits)
		}
	}
	return nil
}

// Compile turns a float network into an integer circuit by post-training quantization,
// the way Concrete ML does:
//
//   - Inputs are quantized to n_input_bits with Concrete ML's unsigned asymmetric
//     quantizer ([NewQuantizer]) fitted to the calibration min/max.
//   - Each Linear and Conv2d has its weights quantized symmetrically per layer to n_w_bits
//     ([QuantizeWeights]); its bias is folded into the accumulator as
//     round(b/(s_in·s_w)), and the input zero point as −zp·Σw, so the accumulator
//     Σ q_w·q_in + c is an exact integer dot product of ciphertexts with clear integers.
//     Padding reads the input zero point (a real 0).
//   - AvgPool2d is a levelled window sum: the integers are added and 1/K² goes into the
//     scale (zero point × K²), so a pool costs additions, never a TLU.
//   - Each ReLU, with the requantization to n_a_bits that follows, becomes one TLU per
//     element; two dot products in a row get an identity TLU (a requantization) between
//     them. Activation quantizers are fitted to the calibration data as it flows through
//     the integer circuit built so far.
//   - The last layer's accumulators are the outputs; the client decrypts them and takes
//     the arg max (no TLU).
//
// For each TLU layer the accumulator range over the calibration data gives its
// bit-width L ([BitWidth]). With rounding_threshold_bits P and L > P, t = L − P least
// significant bits are rounded off ([RoundLSBs]) and the TLU takes P bits; if rounding up
// the largest calibration value would overflow P bits, one more bit is removed (Concrete
// adds a bit instead; this keeps the TLU at P bits). Accumulators of test data that leave
// the calibration range wrap around modulo 2^P, as they would under FHE.
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
	b := &builder{cfg: cfg, c: c, x: c.QuantizeInputs(calib), scale: c.Input.Scale, zp: c.Input.ZeroPoint,
		maxAbs: float64(max(c.Input.Max(), abs64(c.Input.ZeroPoint))), size: net.InSize, inSize: net.InSize}
	for _, l := range net.Layers {
		switch l := l.(type) {
		case *Linear:
			if b.hasDot {
				if err := b.close(actIdentity); err != nil {
					return nil, err
				}
			}
			b.fc++
			if err := b.addDot(fmt.Sprintf("fc%d", b.fc), opLinear, l.W, l.B, convGeom{}, l.In, l.Out); err != nil {
				return nil, err
			}
		case *Conv2d:
			if b.hasDot {
				if err := b.close(actIdentity); err != nil {
					return nil, err
				}
			}
			b.conv++
			g := convGeom{l.OutC, l.InC, l.KH, l.KW, l.Stride, l.Pad, l.InH, l.InW}
			if err := b.addDot(fmt.Sprintf("conv%d", b.conv), opConv, l.W, l.B, g, g.inSize(), g.outSize()); err != nil {
				return nil, err
			}
		case *AvgPool2d:
			b.pool++
			g := poolGeom{l.K, l.Stride, l.C, l.InH, l.InW}
			if !b.hasDot {
				b.name = fmt.Sprintf("pool%d", b.pool)
			}
			kk := int64(l.K * l.K)
			b.ops = append(b.ops, &intOp{kind: opPool, pool: g, in: g.inSize(), out: g.outSize()})
			b.scale /= float64(kk)
			b.zp *= kk
			b.maxAbs *= float64(kk)
			b.size = g.outSize()
		case ReLU:
			if err := b.close(actReLU); err != nil {
				return nil, err
			}
		case Flatten:
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
	// x holds the calibration data at the input of the current stage, as integers.
	x *mat.Dense
	// scale and zp give the real value of the current integers: scale·(v − zp); maxAbs
	// bounds their magnitude.
	scale  float64
	zp     int64
	maxAbs float64
	size   int
	// ops are the levelled operations of the current stage; hasDot says whether one is
	// a dot product.
	ops    []*intOp
	hasDot bool
	name   string
	inSize int

	fc, conv, pool int
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// addDot appends a quantized Linear or Conv2d to the current stage.
func (b *builder) addDot(name string, kind opKind, w, bias []float64, g convGeom, in, out int) error {
	qw, sw := QuantizeWeights(w, b.cfg.NWBits)
	rows := out
	if kind == opConv {
		rows = g.OutC
	}
	cols := len(qw) / rows
	op := &intOp{kind: kind, qw: qw, w: mat.NewDense(rows, cols, nil), c: make([]float64, rows), pad: float64(b.zp), conv: g, in: in, out: out}
	s := b.scale * sw
	bound := 0.0
	for o := 0; o < rows; o++ {
		row := op.w.RawRowView(o)
		var sum, sumAbs int64
		for j := range row {
			q := qw[o*cols+j]
			row[j] = float64(q)
			sum += q
			sumAbs += abs64(q)
		}
		op.c[o] = math.RoundToEven(bias[o]/s) - float64(b.zp*sum)
		inMax := b.maxAbs
		if kind == opConv {
			inMax = max(inMax, math.Abs(op.pad))
		}
		bound = max(bound, float64(sumAbs)*inMax+math.Abs(op.c[o]))
	}
	b.ops = append(b.ops, op)
	b.hasDot = true
	b.name = name
	b.scale, b.zp, b.maxAbs, b.size = s, 0, bound, out
	return nil
}

// stageOf packs the current operations into a stage and computes its calibration
// accumulators and the layer facts shared by TLU and output layers.
func (b *builder) stageOf() (*stage, *mat.Dense, LayerInfo) {
	if b.name == "" {
		b.name = "input"
	}
	st := &stage{ops: b.ops, inSize: b.inSize, outSize: b.size}
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
	sq := compositeNorm2Sq(st.ops)
	info := LayerInfo{Name: b.name, AccMin: lo, AccMax: hi, AccumulatorBits: bits, Signed: signed,
		Norm2: max(1, ceilSqrt(sq)), Scale: b.scale}
	info.Log2Norm2 = math.Log2(float64(info.Norm2))
	for _, op := range st.ops {
		info.LevelledOps += op.macs()
	}
	return st, acc, info
}

// close ends the current stage with a TLU computing act and requantizing to n_a_bits.
func (b *builder) close(act activation) error {
	st, acc, info := b.stageOf()
	info.Activation = act.String()
	info.TLUCount = b.size
	info.SumSize = int((info.LevelledOps + int64(b.size) - 1) / int64(b.size))
	lo, hi := info.AccMin, info.AccMax
	shift, prec := 0, info.AccumulatorBits
	if p := b.cfg.RoundingThresholdBits; p > 0 && prec > p {
		shift = prec - p
		for {
			w, _ := BitWidth(RoundLSBs(lo, shift)>>shift, RoundLSBs(hi, shift)>>shift)
			if w <= p {
				break
			}
			shift++
		}
		prec = p
	}
	if prec > MaxBits {
		return &LayerError{Layer: info.Name, Err: ErrTooWide,
			Why:  fmt.Sprintf("accumulator needs %d bits (calibration range %d..%d), more than the %d a TLU can take", info.AccumulatorBits, lo, hi, MaxBits),
			Hint: "set rounding_threshold_bits (e.g. 6) or use fewer n_w_bits/n_a_bits"}
	}
	t := &tlu{act: act, shift: shift, precision: prec, signed: RoundLSBs(lo, shift)>>shift < 0, mask: int64(1)<<prec - 1}
	// Fit the activation quantizer to the calibration activations, then fill the table.
	flo, fhi := math.Inf(1), math.Inf(-1)
	r, _ := acc.Dims()
	for i := 0; i < r; i++ {
		for _, v := range acc.RawRowView(i) {
			f := act.apply(b.scale * float64(RoundLSBs(int64(v), shift)-b.zp))
			flo, fhi = min(flo, f), max(fhi, f)
		}
	}
	t.outQ = NewQuantizer(b.cfg.NABits, flo, fhi)
	t.table = make([]float64, 1<<prec)
	for idx := range t.table {
		v := t.value(int64(idx))
		t.table[idx] = float64(t.outQ.Quantize(act.apply(b.scale * float64(v-b.zp))))
	}
	st.tlu = t
	info.LSBsRemoved, info.TLUBits, info.Quantizer = shift, prec, t.outQ
	b.c.stages = append(b.c.stages, st)
	b.c.Layers = append(b.c.Layers, info)

	b.x = t.applyClean(acc)
	b.scale, b.zp = t.outQ.Scale, t.outQ.ZeroPoint
	b.maxAbs = float64(max(t.outQ.Max(), abs64(t.outQ.ZeroPoint)))
	b.ops, b.hasDot, b.name, b.inSize = nil, false, "", b.size
	return nil
}

// closeOutput ends the circuit with the output layer.
func (b *builder) closeOutput() error {
	if b.name == "" && len(b.ops) == 0 {
		b.name = "output"
	}
	st, _, info := b.stageOf()
	info.Output = true
	b.c.stages = append(b.c.stages, st)
	b.c.Layers = append(b.c.Layers, info)
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
