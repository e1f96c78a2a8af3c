package circuit

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/fhetune/fhetune/act"
)

// Circuit is a compiled integer circuit: the input quantizer and a list of layers, each
// one levelled integer operation (a dot product, a convolution or a window sum) whose
// accumulators feed one TLU per element, or a max pool (chains of comparisons, one TLU
// each), except the last, whose accumulators are the outputs the client decrypts and
// dequantizes (their arg max is the predicted class).
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
	// Name names the layer after the float layer whose operation feeds it ("fc1",
	// "conv2", "pool1", "maxpool1"; "input" when a TLU reads the inputs themselves,
	// "maxpool1_relu" or "maxpool1_identity" when it reads a max pool's maxima).
	Name string `json:"name"`
	// Op is the levelled operation: "dense", "conv", "pool" or "none"; "maxpool" for a
	// max pool's comparisons (a subtraction and an addition around each TLU).
	Op string `json:"op"`
	// Activation is what a TLU layer's TLUs compute: "relu", "identity" (a
	// requantization), an Activation's function ("leaky_relu", "sigmoid", "tanh",
	// "gelu"), or "max" for a max pool (relu of each comparison's difference); "" for the
	// output layer.
	Activation string `json:"activation,omitempty"`
	// Output is true for the last layer, which has no TLU.
	Output bool `json:"output,omitempty"`
	// TLUCount is the number of TLUs (output elements) per sample; 0 for the output layer.
	// A max pool has K² per output, its comparisons (Concrete's count: its lowering
	// starts each window from a trivial encryption of the smallest value, so the first
	// comparison is bootstrapped too).
	TLUCount int `json:"tlu_count"`
	// Extractions is the number of bit-extraction bootstraps of each TLU: the LSBs removed
	// by exact rounding (Concrete lowers round_bit_pattern into one bootstrap per removed
	// bit), 0 with approximate rounding or none.
	Extractions int `json:"extractions"`
	// AccMin and AccMax are the accumulator range over the calibration data. The
	// accumulator is the integer dot product (or window sum) alone: as in Concrete ML's
	// quantized Gemm and Conv, the input zero point's correction and the bias are applied
	// in the TLU, after rounding. For a max pool, the span of its differences m − x:
	// q.Min − q.Max .. q.Max − q.Min for its input quantizer q.
	AccMin int64 `json:"acc_min"`
	AccMax int64 `json:"acc_max"`
	// AccumulatorBits is the bit-width of that range as Concrete counts it ([BitWidth]);
	// Signed says whether it holds negative values. For the output layer it is the
	// precision of the output that the client decrypts. A max pool's is the width W of
	// its differences, at which its inputs and maxima are encoded too; the layer that
	// reads the maxima has W at least (see [Compile]).
	AccumulatorBits int  `json:"accumulator_bits"`
	Signed          bool `json:"signed"`
	// LSBsRemoved is t, the number of least significant bits rounding removes (0 without
	// rounding).
	LSBsRemoved int `json:"lsbs_removed"`
	// Rounding is "exact" or "approximate" when LSBsRemoved > 0, else "".
	Rounding string `json:"rounding,omitempty"`
	// PowerOfTwo says the rounding comes from power-of-two scales (the LSBs the
	// requantization discards, see [Compile]), not from rounding_threshold_bits.
	PowerOfTwo bool `json:"power_of_two_rounding,omitempty"`
	// TLUBits is the TLU input precision: AccumulatorBits, or rounding_threshold_bits
	// when the accumulator is wider. 0 for the output layer.
	TLUBits int `json:"tlu_bits"`
	// Norm2 is ⌈√(Σ w²)⌉ over the integer weights from the layer's encrypted inputs to one
	// accumulator, the largest over the accumulators (Concrete's MANP analysis rounds the
	// same way), at least 1; Log2Norm2 is its log2, what the parameter optimizer takes.
	// The inputs' own noise is not in it: a max pool's maxima carry a TLU output's and an
	// input's, which the parameter graph adds for the TLU that reads them. For a max pool,
	// ⌈√(2ν + 1)⌉, the noise of a difference with inputs of noise ν (Concrete's MANP; the
	// graph takes 2ν + 1 exactly).
	Norm2     int64   `json:"norm2"`
	Log2Norm2 float64 `json:"log2_norm2"`
	// LevelledOps counts the ciphertext multiply-adds of the layer's levelled operations
	// per sample (dense: weights pruned to zero are counted).
	LevelledOps int64 `json:"levelled_ops"`
	// SumSize is LevelledOps per accumulator, rounded up: the size of the dot product
	// feeding one TLU, as the optimizer's cost model takes it.
	SumSize int `json:"sum_size"`
	// Quantizer is the activation quantizer of the TLU outputs (zero for the output
	// layer); for a max pool, the quantizer of its inputs and maxima.
	Quantizer Quantizer `json:"quantizer"`
	// Scale is the real value of one unit of the accumulator: real = Scale·acc + a
	// per-neuron constant (the zero-point correction and the bias).
	Scale float64 `json:"scale"`
}

// PBSCount returns the bootstraps of the layer per sample: its TLUs and their
// extractions.
func (l LayerInfo) PBSCount() int { return l.TLUCount * (1 + l.Extractions) }

// TLULayers returns the number of layers that end in TLUs.
func (c *Circuit) TLULayers() int { return len(c.Layers) - 1 }

// TLUCount returns the number of table lookups of one inference.
func (c *Circuit) TLUCount() int {
	n := 0
	for _, l := range c.Layers {
		n += l.TLUCount
	}
	return n
}

// PBSCount returns the number of programmable bootstraps of one inference: every TLU
// and every bit extraction of exact rounding.
func (c *Circuit) PBSCount() int {
	n := 0
	for _, l := range c.Layers {
		n += l.PBSCount()
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

// activation is what a TLU computes before requantizing: "identity" (a
// requantization), "relu", or one of [Activation]'s functions with its alpha.
type activation struct {
	fn    string
	alpha float64
}

var (
	actIdentity = activation{fn: "identity"}
	actReLU     = activation{fn: "relu"}
)

// newActivation returns the activation of an [Activation] layer, or an error naming an
// unknown function or a non-finite alpha.
func newActivation(fn string, alpha float64) (activation, error) {
	switch fn {
	case LeakyReLU, Sigmoid, Tanh, GELU:
	default:
		return activation{}, fmt.Errorf("activation function %q is not supported (want one of %s, %s, %s, %s)", fn, LeakyReLU, Sigmoid, Tanh, GELU)
	}
	if math.IsNaN(alpha) || math.IsInf(alpha, 0) {
		return activation{}, fmt.Errorf("activation %s: alpha %v is not finite", fn, alpha)
	}
	return activation{fn: fn, alpha: alpha}, nil
}

// String returns the function's name, as LayerInfo.Activation reports it.
func (a activation) String() string { return a.fn }

// apply returns the function at v (package act's formulas, which the float network
// shares); identity returns v.
func (a activation) apply(v float64) float64 { return act.Value(a.fn, a.alpha, v) }

// applyAll returns the function of every element of x.
func (a activation) applyAll(x *mat.Dense) *mat.Dense {
	r, c := x.Dims()
	out := mat.NewDense(r, c, nil)
	for i := 0; i < r; i++ {
		dst := out.RawRowView(i)
		for j, v := range x.RawRowView(i) {
			dst[j] = a.apply(v)
		}
	}
	return out
}

// stage is one layer of the circuit: at most one levelled operation, then a TLU (nil
// for the output layer, which has out instead); or a max pool, whose TLU is the relu of
// each comparison's difference.
type stage struct {
	op      *intOp
	tlu     *tlu
	out     *affine
	pool    *maxPool
	inSize  int
	outSize int
	// evals is the number of TLU evaluations per sample: outSize, or outSize·K² for a
	// max pool (its comparisons, window-major: evaluation j·K² + k is comparison k of
	// output j).
	evals int
	// norm2Sq holds the squared 2-norm of the integer weights feeding each group's
	// accumulators (the noise factor of its inputs); for a max pool, the noise factor
	// 2ν + 1 of its differences (see builder.addMaxPool).
	norm2Sq []int64
	// group is the number of consecutive elements (evaluations) per group (a conv
	// channel's positions; 1 for dense layers; all of them for a pool, a max pool or no
	// operation).
	group int
	// inBR and inFresh give the variance of each encrypted input of the stage in units
	// of a bootstrap output's and of a fresh encryption's, under the input's key: (0, 1)
	// for the first stage, (1, 0) after a TLU layer, one more bootstrap's worth after a
	// max pool (its maxima are a TLU output plus an input).
	inBR, inFresh int64
}

// levelled applies the stage's levelled operation; with none (a max pool included) it
// returns x itself.
func (s *stage) levelled(x *mat.Dense) *mat.Dense {
	if s.op == nil {
		return x
	}
	return s.op.apply(x)
}

// accSize returns the width of the stage's accumulators, what its TLUs read: a max
// pool's inputs, else the outputs.
func (s *stage) accSize() int {
	if s.pool != nil {
		return s.inSize
	}
	return s.outSize
}

// activate returns the TLU outputs of a TLU stage for its accumulators acc without
// errors (for a max pool, the maxima of its inputs through the comparison chains), and
// how many TLU inputs lie outside [lo, hi].
func (s *stage) activate(acc *mat.Dense, lo, hi int64) (*mat.Dense, int64) {
	if s.pool != nil {
		out, ov, _ := s.pool.run(s.tlu, acc, nil, lo, hi)
		return out, ov
	}
	return s.tlu.applyClean(acc), outside(acc, lo, hi)
}

// maxPool is the comparison chain of a max pool, as Concrete lowers FHELinalg.maxpool2d
// (Conversion/FHETensorOpsToLinalg/TensorOpsToLinalg.cpp: linalg.pooling_nchw_max over
// an output initialized to the smallest value, each of the K² steps per output an
// FHE.max_eint(out, in), which Dialect/FHE/Transforms/Max.cpp rewrites as
// max(m, x) = relu(m − x) + x: a levelled subtraction, a TLU on the signed difference, a
// levelled addition). For output j the running maximum m starts at init and takes, for
// each input x of the window in row-major order, m ← T(m − x) + x with T the stage's
// TLU: K² comparisons, one TLU each. The first compares x₀ with the initial value and
// always returns x₀, but Concrete bootstraps it (and its optimizer counts K²
// comparisons), so the circuit does too.
type maxPool struct {
	g poolGeom
	// init is the smallest integer of the input quantizer, Concrete's initial value: 0
	// for unsigned inputs, −2^(W−2) = −2^(b−1) for signed b-bit ones at W = b + 1 bits.
	init int64
	// windows[j] lists the inputs of output j in comparison order.
	windows [][]int
}

// run runs the chains of every row of x (the pool's inputs) through TLU t and returns
// the maxima, the number of differences outside [lo, hi], and, when errs is not nil, the
// number of comparisons whose output the errors changed (against the error-free TLU of
// the same difference). errs(r) returns the index errors of row r as a map from
// evaluation j·K² + k to its shift (nil: none).
func (p *maxPool) run(t *tlu, x *mat.Dense, errs func(r int) map[int]int64, lo, hi int64) (out *mat.Dense, overflows, changed int64) {
	r, _ := x.Dims()
	kk := p.g.K * p.g.K
	out = mat.NewDense(r, len(p.windows), nil)
	mask := t.mask2()
	for i := 0; i < r; i++ {
		xs, dst := x.RawRowView(i), out.RawRowView(i)
		var ev map[int]int64
		if errs != nil {
			ev = errs(i)
		}
		for j, win := range p.windows {
			m := p.init
			for k, at := range win {
				v := int64(xs[at])
				d := m - v
				if d < lo || d > hi {
					overflows++
				}
				u := t.index(d)
				f := t.lookup(0, u)
				if e := ev[j*kk+k]; e != 0 {
					if g := t.lookup(0, (u+e)&mask); g != f {
						changed++
						f = g
					}
				}
				m = int64(f) + v
			}
			dst[j] = float64(m)
		}
	}
	return out, overflows, changed
}

// affine is the dequantization of accumulators: real = a·acc + b[group].
type affine struct {
	a     float64
	b     []float64
	group int
}

// real returns the real value of accumulator v of element j.
func (f *affine) real(j int, v float64) float64 { return f.a*v + f.b[j/f.group] }

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
	// bias is the integer added to each output row's accumulators: 0 except for an
	// integer bias of quantization-aware training (see [WeightQuant]).
	bias []float64
	// pad is the input zero point, the integer that stands for a real 0 in the padding
	// of a convolution (Concrete ML pads with it).
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
		return linearForward(x, o.w, o.bias)
	case opConv:
		return convForward(x, o.conv, o.w, o.bias, o.pad)
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
		return int64(g.outSize()) * int64(g.groupIn()*g.KH*g.KW)
	default:
		g := o.pool
		return int64(g.outSize()) * int64(g.K*g.K)
	}
}

// tableBudget bounds the float64s of a TLU's precomputed tables; larger TLUs compute
// their function element by element.
const tableBudget = 1 << 21

// tlu is the table lookup of a layer. The accumulator v is rounded (t LSBs removed,
// half up) to r; a signed r is offset by 2^(P−1) as Concrete's signed TLU does, giving
// the index u, which a bootstrap reads modulo 2^(P+1) (the message and its padding bit):
// u < 2^P returns f(r), u in the padding half returns −f(u − 2^P − offset), the
// negacyclic wrap of a bootstrap. f requantizes the activation of the real value:
// f(r) = Q(act(a·r·2^t + b[group])).
type tlu struct {
	act       activation
	shift     int
	precision int
	offset    int64
	method    RoundingMethod
	fn        affine
	outQ      Quantizer
	// table holds f and its negacyclic half for every group and index
	// (group·2^(P+1) + u), or nil when that would exceed tableBudget.
	table []float64
}

// mask2 returns 2^(P+1) − 1, the index range a bootstrap reads.
func (t *tlu) mask2() int64 { return int64(1)<<(t.precision+1) - 1 }

// index returns the bootstrap index of an accumulator value under exact rounding.
func (t *tlu) index(v int64) int64 {
	if t.shift > 0 {
		v = (v + int64(1)<<(t.shift-1)) >> t.shift
	}
	return (v + t.offset) & t.mask2()
}

// f returns the requantized activation of the rounded value r for group g.
func (t *tlu) f(g int, r int64) float64 {
	return float64(t.outQ.Quantize(t.act.apply(t.fn.a*float64(r<<t.shift) + t.fn.b[g])))
}

// lookup returns the bootstrap's output for group g and index u in [0, 2^(P+1)).
func (t *tlu) lookup(g int, u int64) float64 {
	if t.table != nil {
		return t.table[int64(g)<<(t.precision+1)+u]
	}
	return t.compute(g, u)
}

func (t *tlu) compute(g int, u int64) float64 {
	half := int64(1) << t.precision
	if u < half {
		return t.f(g, u-t.offset)
	}
	return -t.f(g, u-half-t.offset)
}

// setWidth makes t a max pool's comparison TLU of w bits: relu of a signed w-bit
// difference, offset 2^(w−1), its outputs the integers themselves (an unsigned w-bit
// quantizer of scale 1 holds every relu(d) < 2^(w−1)).
func (t *tlu) setWidth(w int) {
	t.precision, t.offset = w, int64(1)<<(w-1)
	t.outQ = Quantizer{Bits: w, Scale: 1}
	t.table = nil
	t.fillTable()
}

// fillTable precomputes lookup when it fits tableBudget.
func (t *tlu) fillTable() {
	size := int64(len(t.fn.b)) << (t.precision + 1)
	if size > tableBudget {
		return
	}
	t.table = make([]float64, size)
	n := int64(1) << (t.precision + 1)
	for g := range t.fn.b {
		for u := int64(0); u < n; u++ {
			t.table[int64(g)*n+u] = t.compute(g, u)
		}
	}
}

// applyClean returns the TLU outputs of a batch of accumulators, without errors.
func (t *tlu) applyClean(acc *mat.Dense) *mat.Dense {
	r, c := acc.Dims()
	out := mat.NewDense(r, c, nil)
	if t.table == nil {
		for i := 0; i < r; i++ {
			dst := out.RawRowView(i)
			for j, a := range acc.RawRowView(i)[:len(dst)] {
				dst[j] = t.compute(j/t.fn.group, t.index(int64(a)))
			}
		}
		return out
	}
	// index and lookup, inlined per group: one table slice per group, no division.
	shift, offset, mask := uint(t.shift), t.offset, t.mask2()
	half := int64(0)
	if shift > 0 {
		half = int64(1) << (shift - 1)
	}
	n := int(mask) + 1
	for i := 0; i < r; i++ {
		dst := out.RawRowView(i)
		src := acc.RawRowView(i)[:len(dst)]
		for g0 := 0; g0 < c; g0 += t.fn.group {
			g1 := min(c, g0+t.fn.group)
			tab := t.table[(g0/t.fn.group)*n : (g0/t.fn.group+1)*n]
			for j := g0; j < g1; j++ {
				dst[j] = tab[(((int64(src[j])+half)>>shift)+offset)&mask]
			}
		}
	}
	return out
}

// TLUOutputs runs the circuit without errors on integer inputs (already quantized, one
// row per sample) and returns, for each layer, its accumulators and (for TLU layers) its
// TLU outputs. A max pool's TLUs read differences within its comparison chains rather
// than one accumulator per output, so for a max-pool layer both hold its outputs, the
// maxima. It exists for tests and inspection: it keeps every intermediate result.
func (c *Circuit) TLUOutputs(q *mat.Dense) (accs, outs []*mat.Dense) {
	x := q
	for _, s := range c.stages {
		acc := s.levelled(x)
		if acc == x {
			acc = mat.DenseCopyOf(x)
		}
		if s.tlu == nil {
			accs = append(accs, acc)
			outs = append(outs, nil)
			break
		}
		x, _ = s.activate(acc, 0, 0)
		if s.pool != nil {
			acc = x
		}
		accs = append(accs, acc)
		outs = append(outs, x)
	}
	return accs, outs
}

// Logits returns the dequantized outputs (real values) of output accumulators acc, as
// the client computes them after decryption.
func (c *Circuit) Logits(acc *mat.Dense) *mat.Dense {
	f := c.stages[len(c.stages)-1].out
	r, col := acc.Dims()
	out := mat.NewDense(r, col, nil)
	for i := 0; i < r; i++ {
		for j, v := range acc.RawRowView(i) {
			out.Set(i, j, f.real(j, v))
		}
	}
	return out
}

// predict returns the arg max of the dequantized output accumulators of one sample.
func (f *affine) predict(acc []float64) int {
	best, bi := math.Inf(-1), 0
	for j, v := range acc {
		if r := f.real(j, v); r > best {
			best, bi = r, j
		}
	}
	return bi
}

// QuantizeInputs returns the input quantizer applied to every element of the
// standardized batch x.
func (c *Circuit) QuantizeInputs(x *mat.Dense) *mat.Dense {
	r, col := x.Dims()
	out := mat.NewDense(r, col, nil)
	c.quantizeInputsTo(out, x)
	return out
}

// quantizeInputsTo writes the quantized x into dst (same shape): Quantize, inlined.
func (c *Circuit) quantizeInputsTo(dst, x *mat.Dense) {
	q := c.Input
	s, zp, lo, hi := q.Scale, float64(q.ZeroPoint), float64(q.Min()), float64(q.Max())
	r, _ := x.Dims()
	for i := 0; i < r; i++ {
		d := dst.RawRowView(i)
		src := x.RawRowView(i)[:len(d)]
		for j, v := range src {
			f := math.RoundToEven(v/s + zp)
			switch {
			case !(f > lo): // also NaN
				d[j] = lo
			case f > hi:
				d[j] = hi
			default:
				d[j] = f
			}
		}
	}
}
