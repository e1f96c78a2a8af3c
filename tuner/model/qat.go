package model

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"

	"github.com/fhetune/fhetune/conv"
	"github.com/fhetune/fhetune/fhe/circuit"
)

// Quantization-aware training (QAT). A QAT network is a Network with [Quant] layers
// wherever the compiled circuit quantizes (its input, every TLU's output) and with
// [Linear] and [Conv2d] layers whose Quant field fixes their weight quantizer. Its
// forward pass computes what the circuit computes: each quantized layer recovers the
// integers its input quantizer produced, forms the integer accumulator with the integer
// weights, and dequantizes it with the circuit's own floating-point steps (fhe/circuit's
// quantizers and weight quantization are called, not copied), so a trained network and
// its compiled circuit agree bit for bit. Gradients pass straight through the rounding
// (straight-through estimator), and are zero where a quantizer clips.
//
// This follows how Concrete ML trains its built-in networks with Brevitas
// (sklearn/qnn_module.py): per-tensor quantizers before every linear layer, symmetric
// per-tensor weights, power-of-two scales and integer biases when power_of_two_scaling
// is on, and pruning that bounds every accumulator (n_accum_bits). Activation ranges
// are tracked as moving averages of the batch extremes (as PyTorch's moving-average
// observers do) rather than learned as Brevitas' parameter scaling does: tracking
// needs no extra optimizer state and keeps the quantizer a function of two numbers
// stored with the network.

// QuantMomentum is the weight of a training batch's extremes in a [Quant] layer's
// moving-average range.
const QuantMomentum = 0.05

// Quant is a fake quantizer: it rounds each value to the nearest of the 2^Bits levels of
// the quantizer of the range [Lo, Hi] and returns that level's real value. Lo and Hi
// track the values seen in training (see [QuantMomentum]); the quantizer is
// fhe/circuit's NewQuantizer of the range, or its PowerOfTwoQuantizer when PowerOfTwo.
type Quant struct {
	Bits       int
	PowerOfTwo bool
	Lo, Hi     float64
}

// Kind returns "quant".
func (*Quant) Kind() string { return "quant" }

// NumParams returns 0: the range is tracked, not trained.
func (*Quant) NumParams() int { return 0 }

// OutShape returns in.
func (*Quant) OutShape(in []int) ([]int, error) { return slices.Clone(in), nil }

// Quantizer returns the quantizer of the current range.
func (q *Quant) Quantizer() circuit.Quantizer {
	if q.PowerOfTwo {
		return circuit.PowerOfTwoQuantizer(q.Bits, q.Lo, q.Hi)
	}
	return circuit.NewQuantizer(q.Bits, q.Lo, q.Hi)
}

// Forward returns every value of x quantized and dequantized.
func (q *Quant) Forward(x *mat.Dense) *mat.Dense { return q.apply(x, false) }

func (q *Quant) apply(x *mat.Dense, owned bool) *mat.Dense {
	out := x
	if !owned {
		r, c := x.Dims()
		out = mat.NewDense(r, c, nil)
	}
	fakeQuant(q.Quantizer(), out, x)
	return out
}

// fakeQuant writes qz.Real(qz.Quantize(v)) of every value of x into dst.
func fakeQuant(qz circuit.Quantizer, dst, x *mat.Dense) {
	r, _ := x.Dims()
	for i := 0; i < r; i++ {
		d := dst.RawRowView(i)
		for j, v := range x.RawRowView(i) {
			d[j] = qz.Real(qz.Quantize(v))
		}
	}
}

func (q *Quant) clone() Layer { c := *q; return &c }

func (q *Quant) check() error {
	if q.Bits < circuit.MinBits || q.Bits > circuit.MaxBits {
		return shapeErr("quantizer bits %d outside %d..%d", q.Bits, circuit.MinBits, circuit.MaxBits)
	}
	if !finite(q.Lo) || !finite(q.Hi) || q.Lo > q.Hi {
		return shapeErr("quantizer range [%v, %v] must be finite and ordered", q.Lo, q.Hi)
	}
	return nil
}

// quantState trains a Quant layer: each batch moves the range towards the batch's
// extremes, and the gradient passes where the value is inside the quantizer's range.
type quantState struct {
	q       *Quant
	x       *mat.Dense
	lo, hi  float64
	out, dx *mat.Dense
}

func (q *Quant) newState() layerState { return &quantState{q: q} }

func (s *quantState) forward(x *mat.Dense) *mat.Dense {
	r, c := x.Dims()
	lo, hi := s.q.bestRange(x)
	s.q.Lo += QuantMomentum * (lo - s.q.Lo)
	s.q.Hi += QuantMomentum * (hi - s.q.Hi)
	qz := s.q.Quantizer()
	s.lo, s.hi = qz.Real(qz.Min()), qz.Real(qz.Max())
	s.x = x
	s.out = reuse(s.out, r, c)
	fakeQuant(qz, s.out, x)
	return s.out
}

func (s *quantState) backward(dy *mat.Dense, needInput bool) *mat.Dense {
	if !needInput {
		return nil
	}
	r, c := dy.Dims()
	s.dx = reuse(s.dx, r, c)
	for i := 0; i < r; i++ {
		g, x, d := dy.RawRowView(i), s.x.RawRowView(i), s.dx.RawRowView(i)
		for j, v := range g {
			if x[j] < s.lo || x[j] > s.hi {
				v = 0
			}
			d[j] = v
		}
	}
	return s.dx
}

func (s *quantState) params() []param { return nil }

// rangeFractions are the shares of a batch's extremes that [Quant.bestRange] tries.
var rangeFractions = func() []float64 {
	var f []float64
	for i := 20; i >= 4; i-- {
		f = append(f, float64(i)/20)
	}
	return f
}()

// bestRange returns the range of least squared quantization error for the values of x
// among the batch's extremes [lo, hi] scaled by each of rangeFractions (ties: the
// wider), so that a few outliers do not take the levels that the bulk of the values
// needs (Brevitas' MSE statistics, on a grid). The quantizer is q's kind of the range.
func (q *Quant) bestRange(x *mat.Dense) (lo, hi float64) {
	vals := denseData(x)
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, v := range vals {
		lo, hi = min(lo, v), max(hi, v)
	}
	// The error is measured on at most rangeSample values, evenly strided.
	step := max(1, len(vals)/rangeSample)
	best, bl, bh := math.Inf(1), lo, hi
	for _, f := range rangeFractions {
		c := Quant{Bits: q.Bits, PowerOfTwo: q.PowerOfTwo, Lo: lo * f, Hi: hi * f}
		qz := c.Quantizer()
		qlo, qhi := float64(qz.Min()), float64(qz.Max())
		inv, zp := 1/qz.Scale, float64(qz.ZeroPoint)
		e := 0.0
		for i := 0; i < len(vals); i += step {
			v := vals[i]
			r := v*inv + zp
			if qz.HalfUp {
				r = math.Floor(r + 0.5)
			} else {
				r = math.RoundToEven(r)
			}
			d := v - qz.Scale*(max(qlo, min(qhi, r))-zp)
			e += d * d
		}
		if e < best {
			best, bl, bh = e, c.Lo, c.Hi
		}
	}
	return bl, bh
}

// rangeSample bounds the values [Quant.bestRange] measures the error on.
const rangeSample = 4096

// scaleEvery is the number of training steps a quantized layer keeps its weights' scale
// before searching it again ([circuit.QATWeightScale] is a pass over the weights per
// candidate); evaluation and compilation always search it.
const scaleEvery = 16

// passQuant returns the quantizer of the values after layer l, given in, the quantizer
// of its input (nil: none): a Quant layer sets it, a Flatten and a max pool keep it (the
// maximum of quantized values is one of them), any other layer ends it.
func passQuant(l Layer, in *circuit.Quantizer) *circuit.Quantizer {
	switch l := l.(type) {
	case *Quant:
		q := l.Quantizer()
		return &q
	case Flatten, *MaxPool2d:
		return in
	}
	return nil
}

// integers returns the integers a quantizer produced for the dequantized values x
// (x = qz.Real(v) gives back v), as float64s.
func integers(qz circuit.Quantizer, x *mat.Dense) *mat.Dense {
	r, c := x.Dims()
	out := mat.NewDense(r, c, nil)
	zp := float64(qz.ZeroPoint)
	for i := 0; i < r; i++ {
		o := out.RawRowView(i)
		for j, v := range x.RawRowView(i) {
			o[j] = math.Round(v/qz.Scale) + zp
		}
	}
	return out
}

// intLayer is the integer form of a quantized Linear or Conv2d for one input
// quantizer, as fhe/circuit's Compile builds it: integer weights wi, the integer bias
// ib added to each row's accumulator, and the dequantization real = a·acc + fb[row].
// wf holds the fake-quantized weights s_w·wi that the gradients use.
type intLayer struct {
	wi, wf *mat.Dense
	ib, fb []float64
	a      float64
	in     circuit.Quantizer
}

// newIntLayer quantizes w (rows × cols) and b as Compile does with the weight quantizer
// wq and input quantizer in (fhe/circuit/compile.go, builder.addDot), at the weights'
// scale, or at scale when it is not 0 (a training step's kept scale).
func newIntLayer(w *mat.Dense, b []float64, wq circuit.WeightQuant, in circuit.Quantizer, scale float64) *intLayer {
	rows, cols := w.Dims()
	if scale == 0 {
		scale = circuit.QATWeightScale(denseData(w), wq)
	}
	qw, wqz := circuit.QATWeightsAt(denseData(w), wq, scale)
	il := &intLayer{wi: mat.NewDense(rows, cols, nil), wf: mat.NewDense(rows, cols, nil),
		ib: make([]float64, rows), fb: make([]float64, rows), a: in.Scale * wqz.Scale, in: in}
	for o := 0; o < rows; o++ {
		var sum int64
		wi, wf := il.wi.RawRowView(o), il.wf.RawRowView(o)
		for j := range wi {
			q := qw[o*cols+j]
			wi[j], wf[j] = float64(q), wqz.Scale*float64(q)
			sum += q
		}
		fb := b[o]
		if wq.IntBias {
			il.ib[o], fb = float64(circuit.IntBias(b[o], il.a, wq.BiasLimit)), 0
		}
		il.fb[o] = il.a*float64(-in.ZeroPoint*sum) + fb
	}
	return il
}

// dequantize replaces each accumulator of y (channel-major, group values per row of
// the weights) by its real value a·acc + fb[row].
func (il *intLayer) dequantize(y *mat.Dense, group int) {
	r, _ := y.Dims()
	for i := 0; i < r; i++ {
		row := y.RawRowView(i)
		for j, v := range row {
			row[j] = il.a*v + il.fb[j/group]
		}
	}
}

// Outputs returns the output of every layer for the standardized batch x, as Forward
// computes them (a quantization-aware network's in integers where the circuit computes
// in integers): Outputs(x)[i] is what Layers[i] gives. It shows, layer by layer, what a
// compiled circuit must reproduce.
func (n *Network) Outputs(x *mat.Dense) []*mat.Dense {
	out := make([]*mat.Dense, len(n.Layers))
	var in *circuit.Quantizer
	for i, l := range n.Layers {
		x = applyLayer(l, x, in)
		in = passQuant(l, in)
		out[i] = x
	}
	return out
}

// checkQAT reports a quantized Linear or Conv2d whose input no Quant layer quantizes.
func (n *Network) checkQAT() error {
	var in *circuit.Quantizer
	for i, l := range n.Layers {
		if wq := weightQuant(l); wq != nil {
			if in == nil {
				return shapeErr("layer %d (%s) has quantized weights but no quant layer before it", i, l.Kind())
			}
			if wq.Bits < circuit.MinBits || wq.Bits > circuit.MaxBits || wq.BiasLimit < 0 {
				return shapeErr("layer %d (%s): weight quantizer %+v out of range", i, l.Kind(), *wq)
			}
		}
		in = passQuant(l, in)
	}
	return nil
}

// weightQuant returns the weight quantizer of a Linear or Conv2d layer (nil for a
// float layer and for other layers).
func weightQuant(l Layer) *circuit.WeightQuant {
	switch l := l.(type) {
	case *Linear:
		return l.Quant
	case *Conv2d:
		return l.Quant
	}
	return nil
}

// Quantized reports whether the network has quantization-aware layers.
func (n *Network) Quantized() bool {
	for _, l := range n.Layers {
		if _, ok := l.(*Quant); ok || weightQuant(l) != nil {
			return true
		}
	}
	return false
}

// QATConfig sets up a network for quantization-aware training ([PrepareQAT]), with
// Concrete ML's knob names.
type QATConfig struct {
	// NWBits, NABits and NInputBits are n_w_bits, n_a_bits and n_input_bits (0:
	// NABits).
	NWBits, NABits, NInputBits int
	// PowerOfTwo is power_of_two_scaling: power-of-two scales for inputs, weights and
	// activations, zero points 0 and integer biases, so that Compile can round every
	// accumulator before a ReLU by the bits its requantization discards.
	PowerOfTwo bool
	// AccumBits is n_accum_bits: when not 0, each neuron (output channel) keeps only as
	// many non-zero weights as keep its worst-case accumulator within that many bits.
	AccumBits int
}

func (c QATConfig) check() error {
	for _, k := range []struct {
		name string
		v    int
	}{{"n_w_bits", c.NWBits}, {"n_a_bits", c.NABits}, {"n_input_bits", c.NInputBits}} {
		if k.v == 0 && k.name == "n_input_bits" {
			continue
		}
		if k.v < circuit.MinBits || k.v > circuit.MaxBits {
			return fmt.Errorf("%w: %s %d outside %d..%d", ErrQAT, k.name, k.v, circuit.MinBits, circuit.MaxBits)
		}
	}
	if c.AccumBits != 0 && (c.AccumBits < 2 || c.AccumBits > 62) {
		return fmt.Errorf("%w: n_accum_bits %d outside 2..62", ErrQAT, c.AccumBits)
	}
	return nil
}

// PrepareQAT returns a copy of the float network net set up for quantization-aware
// training: a Quant layer on the input (n_input_bits) and after every activation
// (n_a_bits), another before every Linear or Conv2d that no Quant layer feeds (after a
// pooling layer, or between two levelled layers: where Compile puts an identity TLU),
// and quantized weights (n_w_bits) on every Linear and Conv2d. The quantizers' ranges
// start at the best ranges ([Quant]) of the values that calib (raw samples) gives at each
// point of the quantized network. With AccumBits, each Linear and Conv2d is then pruned so that
// every accumulator fits it ([AccumulatorPrune]).
func PrepareQAT(net *Network, calib *mat.Dense, cfg QATConfig) (*Network, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.NInputBits == 0 {
		cfg.NInputBits = cfg.NABits
	}
	if err := net.Validate(); err != nil {
		return nil, fmt.Errorf("model: qat: %w", err)
	}
	if net.Quantized() {
		return nil, fmt.Errorf("%w: the network is quantized already", ErrQAT)
	}
	wq := circuit.WeightQuant{Bits: cfg.NWBits, PowerOfTwo: cfg.PowerOfTwo, IntBias: cfg.PowerOfTwo}
	out := net.Clone()
	out.Layers = nil
	newQ := func(bits int) *Quant { return &Quant{Bits: bits, PowerOfTwo: cfg.PowerOfTwo} }
	fed := false  // whether a Quant layer feeds the current values (through Flatten)
	input := true // whether the next Quant layer quantizes the network's input
	inQ := func() *Quant {
		bits := cfg.NABits
		if input {
			bits, input = cfg.NInputBits, false
		}
		return newQ(bits)
	}
	for _, l := range net.Layers {
		l = l.clone()
		switch l := l.(type) {
		case *Linear:
			if !fed {
				out.Layers = append(out.Layers, inQ())
			}
			w := wq
			l.Quant = &w
		case *Conv2d:
			if !fed {
				out.Layers = append(out.Layers, inQ())
			}
			w := wq
			l.Quant = &w
		}
		out.Layers = append(out.Layers, l)
		switch l.(type) {
		case ReLU, Activation:
			out.Layers = append(out.Layers, newQ(cfg.NABits))
			fed = true
		case Flatten:
		default:
			fed = false
		}
	}
	if err := initRanges(out, calib); err != nil {
		return nil, err
	}
	if cfg.AccumBits > 0 {
		if err := AccumulatorPrune(out, cfg.AccumBits); err != nil {
			return nil, err
		}
	}
	return out, out.Validate()
}

// initRanges sets every Quant layer's range to the extremes of the values that reach
// it when the raw samples x run through the network, quantized up to that point.
func initRanges(net *Network, x *mat.Dense) error {
	if x == nil {
		return fmt.Errorf("model: qat: no calibration samples")
	}
	h := net.Standardize(x)
	var in *circuit.Quantizer
	for _, l := range net.Layers {
		if q, ok := l.(*Quant); ok {
			q.Lo, q.Hi = q.bestRange(h)
		}
		h = applyLayer(l, h, in)
		in = passQuant(l, in)
	}
	return nil
}

// applyLayer runs one layer on x as the quantized forward pass does: a quantized Linear
// or Conv2d, and an average pool reading quantized values, compute in integers.
func applyLayer(l Layer, x *mat.Dense, in *circuit.Quantizer) *mat.Dense {
	if in != nil {
		switch l := l.(type) {
		case *Linear:
			if l.Quant != nil {
				return l.applyInt(x, newIntLayer(l.W, l.B, *l.Quant, *in, 0))
			}
		case *Conv2d:
			if l.Quant != nil {
				return l.applyInt(x, newIntLayer(l.W, l.B, *l.Quant, *in, 0), nil)
			}
		case *AvgPool2d:
			return l.applyInt(x, *in)
		}
	}
	return l.apply(x, false)
}

// applyInt is the quantized forward pass of a Linear layer (see [intLayer]).
func (l *Linear) applyInt(x *mat.Dense, il *intLayer) *mat.Dense {
	n, _ := x.Dims()
	o, _ := l.W.Dims()
	xi := integers(il.in, x)
	out := mat.NewDense(n, o, nil)
	fillRows(out, il.ib)
	gemm(false, true, 1, xi, il.wi, 1, out)
	il.dequantize(out, 1)
	return out
}

// applyInt is the quantized forward pass of a Conv2d layer (see [intLayer]): the
// integers of x, padded with the input zero point as Concrete ML pads. When cols is
// not nil (a training batch) it receives, per group, the im2col matrices of the
// dequantized inputs that the weight gradient needs.
func (l *Conv2d) applyInt(x *mat.Dense, il *intLayer, cols []*mat.Dense) *mat.Dense {
	n, _ := x.Dims()
	oh, ow := l.OutHW()
	pos, k := oh*ow, l.GroupInC()*l.KH*l.KW
	chunk := n
	if cols == nil {
		chunk = max(1, min(n, im2colBudget/(pos*k)))
	}
	xi := integers(il.in, x)
	out := mat.NewDense(n, l.OutC*pos, nil)
	zp, s := float64(il.in.ZeroPoint), il.in.Scale
	var c, y2 *mat.Dense
	for r0 := 0; r0 < n; r0 += chunk {
		m := min(chunk, n-r0)
		y2 = reuse(y2, m*pos, l.OutC)
		for g := range l.NumGroups() {
			if cols != nil {
				c = mat.NewDense(m*pos, k, nil)
			} else {
				c = reuse(c, m*pos, k)
			}
			conv.Im2col(xi, l.geom(g), r0, m, zp, c)
			gemm(false, true, 1, c, l.groupW(il.wi, g), 0, l.groupCols(y2, g))
			if cols != nil {
				raw := c.RawMatrix().Data
				for j, v := range raw {
					raw[j] = (v - zp) * s
				}
				cols[g] = c
			}
		}
		for i := 0; i < m; i++ {
			o := out.RawRowView(r0 + i)
			for p := 0; p < pos; p++ {
				for ch, v := range y2.RawRowView(i*pos + p) {
					o[ch*pos+p] = il.a*(v+il.ib[ch]) + il.fb[ch]
				}
			}
		}
	}
	return out
}

// applyInt is the average pool of values quantized by in, as the circuit computes it:
// the integer window sums S, dequantized as (s/K²)·S − s·zp (fhe/circuit's addPool).
func (l *AvgPool2d) applyInt(x *mat.Dense, in circuit.Quantizer) *mat.Dense {
	n, _ := x.Dims()
	oh, ow := l.OutHW()
	xi := integers(in, x)
	out := mat.NewDense(n, l.C*oh*ow, nil)
	l.sum(xi, out, 1)
	a, b := in.Scale/float64(l.K*l.K), -in.Scale*float64(in.ZeroPoint)
	for i := 0; i < n; i++ {
		row := out.RawRowView(i)
		for j, v := range row {
			row[j] = a*v + b
		}
	}
	return out
}

// AccumulatorPrune bounds every accumulator of a quantization-aware network to bits
// bits (n_accum_bits), as Concrete ML's built-in networks prune
// (sklearn/qnn_module.py, SparseQuantNeuralNetwork.max_active_neurons): each neuron
// (output channel) of every quantized Linear and Conv2d keeps at most
//
//	K = ⌊(2^(bits−1) − 1) / (max|w| · max|x|)⌋
//
// non-zero weights, those of largest magnitude; the others are set to zero and masked.
// max|w| = 2^(n_w_bits−1) is the largest integer weight magnitude and max|x| = 2^b − 1
// bounds the b-bit integers of the input quantizer (signed or not), so every
// accumulator lies within ±(2^(bits−1) − 1) and takes at most bits bits whatever the
// inputs. Concrete ML counts the active weights of a whole layer, which its own
// documentation says does not guarantee the width; the count here is per neuron. With
// integer biases (power-of-two scaling) each bias is clipped to what the kept weights
// leave, one weight fewer being kept when they would leave none. Errors wrap ErrPrune
// when bits leaves no weight.
func AccumulatorPrune(net *Network, bits int) error {
	if bits < 2 || bits > 62 {
		return pruneErr("n_accum_bits %d outside 2..62", bits)
	}
	limit := int64(1)<<(bits-1) - 1
	var in *circuit.Quantizer
	for _, l := range net.Layers {
		if wq := weightQuant(l); wq != nil && in != nil {
			maxW, maxX := int64(1)<<(wq.Bits-1), int64(1)<<in.Bits-1
			k := limit / (maxW * maxX)
			if wq.IntBias && k > 1 && limit-k*maxW*maxX == 0 {
				k--
			}
			if k < 1 {
				return pruneErr("n_accum_bits %d is too small: one %d-bit weight times one %d-bit input needs up to %d bits",
					bits, wq.Bits, in.Bits, bitsFor(maxW*maxX))
			}
			keepLargest(l, int(k))
			if wq.IntBias {
				wq.BiasLimit = limit - k*maxW*maxX
			}
		}
		in = passQuant(l, in)
	}
	return nil
}

// bitsFor returns the bits of a signed accumulator holding ±v.
func bitsFor(v int64) int {
	b := 1
	for int64(1)<<(b-1)-1 < v {
		b++
	}
	return b
}

// keepLargest zeroes and masks all but the k weights of largest magnitude of each row
// of a Linear or Conv2d layer's weights (ties: the lower index first); masked weights
// stay masked.
func keepLargest(l Layer, k int) {
	var mask *[]bool
	switch l := l.(type) {
	case *Linear:
		mask = &l.Mask
	case *Conv2d:
		mask = &l.Mask
	}
	w := weightsOf(l)
	r, c := w.Dims()
	if *mask == nil {
		*mask = make([]bool, r*c)
		for i := range *mask {
			(*mask)[i] = true
		}
	}
	m := *mask
	order := make([]int, c)
	for o := 0; o < r; o++ {
		row := w.RawRowView(o)
		for j := range order {
			order[j] = j
		}
		slices.SortStableFunc(order, func(a, b int) int {
			va, vb := math.Abs(row[a]), math.Abs(row[b])
			if !m[o*c+a] {
				va = -1
			}
			if !m[o*c+b] {
				vb = -1
			}
			switch {
			case va > vb:
				return -1
			case va < vb:
				return 1
			}
			return 0
		})
		for _, j := range order[min(k, c):] {
			row[j], m[o*c+j] = 0, false
		}
	}
}
