package circuit

import (
	"gonum.org/v1/gonum/mat"
)

// Circuit is a compiled integer circuit: the input quantizer and a list of layers, each
// a run of levelled integer operations (dot products, window sums) that ends in one TLU
// per output element, except the last, whose accumulators are the outputs the client
// decrypts (their arg max is the predicted class).
//
// A Circuit is read-only after Compile; its methods are safe for concurrent use.
type Circuit struct {
	// Input quantizes the standardized inputs (client side, before encryption).
	Input Quantizer
	// Layers describes each layer, the TLU layers first and the output layer last.
	Layers []LayerInfo
	// Config is the configuration the circuit was compiled with, defaults filled in.
	Config Config

	stages  []*stage
	inSize  int
	outSize int
}

// LayerInfo describes one layer of a circuit.
type LayerInfo struct {
	// Name names the layer after the float layer whose dot product feeds it ("fc1",
	// "conv2", "pool1" when only a window sum does).
	Name string `json:"name"`
	// Activation is "relu" or "identity" (a requantization between two dot products) for
	// a TLU layer and "" for the output layer.
	Activation string `json:"activation,omitempty"`
	// Output is true for the last layer, which has no TLU.
	Output bool `json:"output,omitempty"`
	// TLUCount is the number of TLUs (output elements) per sample; 0 for the output layer.
	TLUCount int `json:"tlu_count"`
	// AccMin and AccMax are the accumulator range over the calibration data.
	AccMin int64 `json:"acc_min"`
	AccMax int64 `json:"acc_max"`
	// AccumulatorBits is the bit-width of that range as Concrete counts it ([BitWidth]);
	// Signed says whether it holds negative values.
	AccumulatorBits int  `json:"accumulator_bits"`
	Signed          bool `json:"signed"`
	// LSBsRemoved is t, the number of least significant bits rounding removes (0 without
	// rounding).
	LSBsRemoved int `json:"lsbs_removed"`
	// TLUBits is the TLU input precision: AccumulatorBits, or the rounding threshold when
	// the accumulator is wider. 0 for the output layer.
	TLUBits int `json:"tlu_bits"`
	// Norm2 is ⌈√(Σ w²)⌉ over the integer weights from the layer's encrypted inputs to one
	// accumulator, the largest over the accumulators (Concrete's MANP analysis rounds the
	// same way), at least 1; Log2Norm2 is its log2, what the parameter optimizer takes.
	Norm2     int64   `json:"norm2"`
	Log2Norm2 float64 `json:"log2_norm2"`
	// LevelledOps counts the ciphertext multiply-adds of the layer's levelled operations
	// per sample (dense: weights pruned to zero are counted).
	LevelledOps int64 `json:"levelled_ops"`
	// SumSize is LevelledOps per TLU, rounded up: the size of the dot product feeding one
	// TLU, as the optimizer's cost model takes it.
	SumSize int `json:"sum_size"`
	// Quantizer is the activation quantizer of the TLU outputs (zero for the output layer).
	Quantizer Quantizer `json:"quantizer"`
	// Scale is the real value of one unit of the accumulator (its zero point is 0 unless a
	// window sum ends the layer).
	Scale float64 `json:"scale"`
}

// TLULayers returns the number of layers that end in TLUs.
func (c *Circuit) TLULayers() int { return len(c.Layers) - 1 }

// PBSCount returns the number of TLUs (programmable bootstraps) of one inference.
func (c *Circuit) PBSCount() int {
	n := 0
	for _, l := range c.Layers {
		n += l.TLUCount
	}
	return n
}

// MaxTLUBits returns the largest TLU precision of the circuit.
func (c *Circuit) MaxTLUBits() int {
	m := 0
	for _, l := range c.Layers {
		m = max(m, l.TLUBits)
	}
	return m
}

// InSize returns the number of input features.
func (c *Circuit) InSize() int { return c.inSize }

// OutSize returns the number of outputs (classes).
func (c *Circuit) OutSize() int { return c.outSize }

// activation is what a TLU computes before requantizing.
type activation int

const (
	actIdentity activation = iota
	actReLU
)

func (a activation) String() string {
	if a == actReLU {
		return "relu"
	}
	return "identity"
}

func (a activation) apply(v float64) float64 {
	if a == actReLU {
		return max(v, 0)
	}
	return v
}

// stage is one layer of the circuit: levelled operations, then a TLU (nil for the output).
type stage struct {
	ops     []*intOp
	tlu     *tlu
	inSize  int
	outSize int
}

// levelled applies the stage's levelled operations; with none it returns x itself.
func (s *stage) levelled(x *mat.Dense) *mat.Dense {
	for _, op := range s.ops {
		x = op.apply(x)
	}
	return x
}

// opKind says what an intOp computes.
type opKind int

const (
	opLinear opKind = iota
	opConv
	opPool
)

// intOp is one levelled integer operation on ciphertexts with clear integer constants.
type intOp struct {
	kind opKind
	// w holds the integer weights (Out × In, or OutC × InC·KH·KW), qw the same as int64.
	w  *mat.Dense
	qw []int64
	// c holds the clear constants added per output (linear) or per channel (conv):
	// round(bias/scale) − zero_point·Σ weights; pad is the input zero point, the integer
	// that stands for a real 0 in the padding of a convolution.
	c   []float64
	pad float64
	// conv and pool give the shapes.
	conv convGeom
	pool poolGeom
	in   int
	out  int
}

func (o *intOp) apply(x *mat.Dense) *mat.Dense {
	switch o.kind {
	case opLinear:
		return linearForward(x, o.w, o.c)
	case opConv:
		return convForward(x, o.conv, o.w, o.c, o.pad)
	default:
		return poolForward(x, o.pool, 1)
	}
}

// macs returns the ciphertext multiply-adds of the operation per sample.
func (o *intOp) macs() int64 {
	switch o.kind {
	case opLinear:
		return int64(o.in) * int64(o.out)
	case opConv:
		g := o.conv
		return int64(g.outSize()) * int64(g.InC*g.KH*g.KW)
	default:
		g := o.pool
		return int64(g.outSize()) * int64(g.K*g.K)
	}
}

// tlu is the table lookup of a layer: the accumulator is rounded (t LSBs removed), its
// P-bit pattern indexes the table, which holds the requantized activation of the value
// that pattern stands for.
type tlu struct {
	act       activation
	shift     int
	precision int
	signed    bool
	mask      int64
	table     []float64
	outQ      Quantizer
}

// index returns the table index of an accumulator value: round to a multiple of 2^shift
// (half up), keep the pattern's low precision bits (two's complement wraps as a bootstrap
// does).
func (t *tlu) index(acc float64) int64 {
	a := int64(acc)
	if t.shift > 0 {
		a = (a + int64(1)<<(t.shift-1)) >> t.shift
	}
	return a & t.mask
}

// value returns the accumulator value a table index stands for.
func (t *tlu) value(idx int64) int64 {
	v := idx
	if t.signed && idx >= int64(1)<<(t.precision-1) {
		v = idx - int64(1)<<t.precision
	}
	return v << t.shift
}

// applyClean returns the TLU outputs of a batch of accumulators, without errors.
func (t *tlu) applyClean(acc *mat.Dense) *mat.Dense {
	r, c := acc.Dims()
	out := mat.NewDense(r, c, nil)
	// index, inlined: a shift of 0 adds 0.
	shift, mask, table := uint(t.shift), t.mask, t.table
	half := int64(0)
	if shift > 0 {
		half = int64(1) << (shift - 1)
	}
	for i := 0; i < r; i++ {
		dst := out.RawRowView(i)
		src := acc.RawRowView(i)[:len(dst)]
		for j, a := range src {
			dst[j] = table[((int64(a)+half)>>shift)&mask]
		}
	}
	return out
}

// TLUOutputs runs the circuit without errors on integer inputs (already quantized, one
// row per sample) and returns, for each layer, its accumulators and (for TLU layers) its
// TLU outputs. It exists for tests and inspection: it keeps every intermediate result.
func (c *Circuit) TLUOutputs(q *mat.Dense) (accs, outs []*mat.Dense) {
	x := q
	for _, s := range c.stages {
		acc := s.levelled(x)
		if acc == x {
			acc = mat.DenseCopyOf(x)
		}
		accs = append(accs, acc)
		if s.tlu == nil {
			outs = append(outs, nil)
			break
		}
		x = s.tlu.applyClean(acc)
		outs = append(outs, x)
	}
	return accs, outs
}

// QuantizeInputs returns the input quantizer applied to every element of the
// standardized batch x.
func (c *Circuit) QuantizeInputs(x *mat.Dense) *mat.Dense {
	r, col := x.Dims()
	out := mat.NewDense(r, col, nil)
	c.quantizeInputsTo(out, x)
	return out
}

// quantizeInputsTo writes the quantized x into dst (same shape): Quantize, with the
// floor of a non-negative value taken by truncation.
func (c *Circuit) quantizeInputsTo(dst, x *mat.Dense) {
	q := c.Input
	s, zp, hi := q.Scale, float64(q.ZeroPoint)+0.5, float64(q.Max())
	r, _ := x.Dims()
	for i := 0; i < r; i++ {
		d := dst.RawRowView(i)
		src := x.RawRowView(i)[:len(d)]
		for j, v := range src {
			f := v/s + zp
			switch {
			case !(f >= 1): // also NaN; ⌊f⌋ ≤ 0 clips to 0
				d[j] = 0
			case f >= hi:
				d[j] = hi
			default:
				d[j] = float64(int64(f))
			}
		}
	}
}
