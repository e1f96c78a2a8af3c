package circuit

import (
	"math"
	"math/bits"
	"slices"
)

// Quantizer is Concrete ML's uniform asymmetric quantizer of inputs and activations
// (concrete-ml src/concrete/ml/quantization/quantizers.py, UniformQuantizer): n bits, a
// scale and an integer zero point, so that an integer q stands for the real value
// Scale·(q − ZeroPoint). A signed quantizer (Concrete ML picks one when the calibration
// values have negatives, post_training.py _get_input_quant_opts) holds integers in
// [−2^(n−1), 2^(n−1) − 1], an unsigned one in [0, 2^n − 1].
type Quantizer struct {
	Bits      int     `json:"bits"`
	Scale     float64 `json:"scale"`
	ZeroPoint int64   `json:"zero_point"`
	Signed    bool    `json:"signed,omitempty"`
	// HalfUp rounds ties up (⌊x + ½⌋) instead of to even. Power-of-two quantizers
	// ([PowerOfTwoQuantizer]) round this way so that a TLU reading an accumulator
	// rounded by Compile's power-of-two pass (half up too) gives what it gives unrounded.
	HalfUp bool `json:"half_up,omitempty"`
}

// stabilityConst is the range below which Concrete ML treats a tensor as one value.
const stabilityConst = 1e-6

// NewQuantizer fits a bits-bit quantizer to the calibration range [lo, hi], signed when
// lo < 0 (offset o = 2^(bits−1), else 0), as Concrete ML's
// compute_quantization_parameters does:
//
//	scale = (hi − lo)/(2^bits − 1), zero_point = round((hi·(−o) − lo·(2^bits − 1 − o))/(hi − lo))
//
// (round half to even, as numpy rounds). When hi − lo < 10^−6 the range is one value v
// and the quantizer is unsigned: a value near 0 gets scale 1 and zero point round(−lo);
// any other v gets scale v and zero point 0, so that v quantizes to 1.
func NewQuantizer(bits int, lo, hi float64) Quantizer {
	levels := float64(uint64(1)<<bits - 1)
	if hi-lo < stabilityConst {
		if math.Abs(hi) < stabilityConst {
			return Quantizer{Bits: bits, Scale: 1, ZeroPoint: int64(math.RoundToEven(-lo))}
		}
		return Quantizer{Bits: bits, Scale: hi, ZeroPoint: 0}
	}
	q := Quantizer{Bits: bits, Scale: (hi - lo) / levels, Signed: lo < 0}
	o := float64(q.offset())
	q.ZeroPoint = int64(math.RoundToEven((hi*(-o) - lo*(levels-o)) / (hi - lo)))
	return q
}

// offset returns 2^(Bits−1) for a signed quantizer and 0 otherwise.
func (q Quantizer) offset() int64 {
	if q.Signed {
		return int64(1) << (q.Bits - 1)
	}
	return 0
}

// Min returns the smallest integer: −2^(Bits−1) when signed, else 0.
func (q Quantizer) Min() int64 { return -q.offset() }

// Max returns the largest integer: 2^(Bits−1) − 1 when signed, else 2^Bits − 1.
func (q Quantizer) Max() int64 { return int64(1)<<q.Bits - 1 - q.offset() }

// Quantize returns round(x/Scale + ZeroPoint) (half to even, numpy's rint, as Concrete ML
// quantizes; half up when HalfUp) clipped to [Min, Max].
func (q Quantizer) Quantize(x float64) int64 {
	v := x/q.Scale + float64(q.ZeroPoint)
	if q.HalfUp {
		v = math.Floor(v + 0.5)
	} else {
		v = math.RoundToEven(v)
	}
	if lo := float64(q.Min()); !(v > lo) { // also NaN
		return q.Min()
	}
	if m := float64(q.Max()); v > m {
		return q.Max()
	}
	return int64(v)
}

// Dequantize returns Scale·(v − ZeroPoint).
func (q Quantizer) Dequantize(v int64) float64 { return q.Scale * float64(v-q.ZeroPoint) }

// Real returns the real value a TLU reads for the integer v when no levelled operation
// comes between: Scale·v − Scale·ZeroPoint, computed in exactly the floating-point steps
// the circuit takes, so that a fake-quantized forward pass that uses it (tuner/model's
// quantization-aware training) agrees with the circuit bit for bit.
func (q Quantizer) Real(v int64) float64 {
	return q.Scale*float64(v) + -q.Scale*float64(q.ZeroPoint)
}

// PowerOfTwoQuantizer returns the bits-bit quantizer of [lo, hi] whose scale is a power
// of two and whose zero point is 0, as Brevitas' power-of-two scaling quantizers are
// (Concrete ML's Int8ActPerTensorPoT in quantization/qat_quantizers.py: per-tensor,
// log2 of the scale rounded up so that the range fits): signed when lo < 0, with
// scale 2^⌈log2(max(|lo|, |hi|)/(2^(bits−1) − 1))⌉ (integers −2^(bits−1)..2^(bits−1) − 1),
// else unsigned with scale 2^⌈log2(hi/(2^bits − 1))⌉. It rounds half up (see HalfUp). A
// range without magnitude gets scale 1.
func PowerOfTwoQuantizer(bits int, lo, hi float64) Quantizer {
	q := Quantizer{Bits: bits, Signed: lo < 0, HalfUp: true}
	m, levels := hi, float64(uint64(1)<<bits-1)
	if q.Signed {
		m, levels = max(-lo, hi), max(1, float64(int64(1)<<(bits-1)-1))
	}
	q.Scale = PowerOfTwoScale(m / levels)
	return q
}

// PowerOfTwoScale returns 2^⌈log2 s⌉ for s > 0 (Brevitas' power-of-two restriction with
// a ceiling), and 1 for s ≤ 0 or not finite.
func PowerOfTwoScale(s float64) float64 {
	if !(s > 0) || math.IsInf(s, 0) {
		return 1
	}
	frac, exp := math.Frexp(s) // s = frac·2^exp, frac in [0.5, 1)
	if frac == 0.5 {
		return s
	}
	return math.Ldexp(1, exp)
}

// isPowerOfTwo reports whether s is 2^k for an integer k.
func isPowerOfTwo(s float64) (k int, ok bool) {
	frac, exp := math.Frexp(s)
	return exp - 1, frac == 0.5
}

// WeightQuant fixes how Compile quantizes a layer's weights and bias: the quantizer a
// quantization-aware training used, so that the circuit computes what the training
// did (Concrete ML compiles a Brevitas network with its own quantizers). The weights
// are quantized symmetrically per tensor to Bits ([QATWeights]). With IntBias, the bias
// is quantized to the accumulator's scale s_in·s_w and added to the accumulator as an
// integer, clipped to ±BiasLimit when BiasLimit > 0 (Brevitas' IntBias, which Concrete
// ML's built-in networks use with power-of-two scaling); without, the float bias is
// applied inside the TLU as for post-training quantization.
type WeightQuant struct {
	Bits       int   `json:"bits"`
	PowerOfTwo bool  `json:"power_of_two,omitempty"`
	IntBias    bool  `json:"int_bias,omitempty"`
	BiasLimit  int64 `json:"bias_limit,omitempty"`
}

// Clone returns a copy of wq (nil for nil), for layers that own their quantizer.
func (wq *WeightQuant) Clone() *WeightQuant {
	if wq == nil {
		return nil
	}
	c := *wq
	return &c
}

// QATWeights quantizes weights as a quantization-aware training does, symmetric per
// tensor (Brevitas' Int8WeightPerTensorFloat, with Concrete ML's built-in networks'
// weight_narrow_range off): q = rint(w/scale) clipped to [−2^(Bits−1), 2^(Bits−1) − 1]
// (with 1 bit, {−1, 0, 1} as [QuantizeWeights] does). The scale is the one of least
// squared quantization error among max|w|·f/(2^(Bits−1) − 1) for f = 1, 0.95, …, 0.2
// (Brevitas' MSE weight statistics, on a grid), so that outliers do not leave every
// other weight at zero when the bits are few; with PowerOfTwo, among the powers of two
// 2^(⌈log2(max|w|/(2^(Bits−1) − 1))⌉ − i), i = 0..4 (Int8WeightPerTensorPoT's
// restriction). Ties keep the larger scale. All-zero weights get scale 1.
func QATWeights(w []float64, wq WeightQuant) ([]int64, WeightQuantizer) {
	return QATWeightsAt(w, wq, QATWeightScale(w, wq))
}

// qatLevels returns the largest and smallest integer weight of n bits.
func qatLevels(n int) (levels, lowest float64) {
	if n == 1 {
		return 1, -1
	}
	return float64(int64(1)<<(n-1) - 1), -float64(int64(1) << (n - 1))
}

// QATWeightScale returns the scale [QATWeights] quantizes w at: the candidate of least
// squared quantization error.
func QATWeightScale(w []float64, wq WeightQuant) float64 {
	m := 0.0
	for _, v := range w {
		m = max(m, math.Abs(v))
	}
	if m == 0 {
		return 1
	}
	levels, lowest := qatLevels(wq.Bits)
	scale, best := 1.0, math.Inf(1)
	for _, s := range weightScales(m/levels, wq.PowerOfTwo) {
		inv, e := 1/s, 0.0
		for _, v := range w {
			d := v - s*max(lowest, min(levels, math.RoundToEven(v*inv)))
			e += d * d
		}
		if e < best {
			best, scale = e, s
		}
	}
	return scale
}

// QATWeightsAt quantizes w as [QATWeights] does at the given scale. A training can keep
// a scale for a few steps; what it compiles is quantized at QATWeightScale's.
func QATWeightsAt(w []float64, wq WeightQuant, scale float64) ([]int64, WeightQuantizer) {
	levels, lowest := qatLevels(wq.Bits)
	q := make([]int64, len(w))
	for i, v := range w {
		q[i] = int64(max(lowest, min(levels, math.RoundToEven(v/scale))))
	}
	return q, WeightQuantizer{Bits: wq.Bits, Scale: scale, Symmetric: true}
}

// weightScales returns the candidate scales of [QATWeights], largest first, for the
// abs-max scale s.
func weightScales(s float64, pot bool) []float64 {
	var out []float64
	if pot {
		top := PowerOfTwoScale(s)
		for i := range 5 {
			out = append(out, math.Ldexp(top, -i))
		}
		return out
	}
	for i := 20; i >= 4; i-- {
		out = append(out, s*float64(i)/20)
	}
	return out
}

// IntBias returns the bias b quantized to the accumulator scale s (s_in·s_w):
// rint(b/s), clipped to ±limit when limit > 0.
func IntBias(b, s float64, limit int64) int64 {
	v := math.RoundToEven(b / s)
	if limit > 0 {
		v = max(-float64(limit), min(float64(limit), v))
	}
	return int64(v)
}

// WeightQuantizer quantizes one layer's weights. Concrete ML quantizes weights whose
// distribution is roughly symmetric around zero symmetrically and signed (zero point 0),
// and other weights asymmetrically and unsigned (post_training.py,
// _check_distribution_is_symmetric_around_zero).
type WeightQuantizer struct {
	Bits      int     `json:"bits"`
	Scale     float64 `json:"scale"`
	ZeroPoint int64   `json:"zero_point"`
	Symmetric bool    `json:"symmetric"`
}

// SymmetricAroundZero is Concrete ML's check of a weight distribution: with vmin and vmax
// its 3rd and 97th percentiles (numpy's linear interpolation) and r = |vmin/vmax| (0 when
// |vmax| < 0.001), the weights are symmetric unless both percentiles have one sign or r
// is outside [1/3, 3].
func SymmetricAroundZero(w []float64) bool {
	if len(w) == 0 {
		return true
	}
	s := slices.Clone(w)
	slices.Sort(s)
	vmin, vmax := percentile(s, 3), percentile(s, 97)
	r := 0.0
	if math.Abs(vmax) >= 0.001 {
		r = math.Abs(vmin / vmax)
	}
	const maxSkew = 3
	return !((vmin > 0 && vmax > 0) || (vmin < 0 && vmax < 0) || r < 1.0/maxSkew || r > maxSkew)
}

// percentile returns numpy.percentile(sorted, p) with linear interpolation.
func percentile(sorted []float64, p float64) float64 {
	pos := p / 100 * float64(len(sorted)-1)
	i := int(math.Floor(pos))
	if i >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	f := pos - float64(i)
	return sorted[i] + f*(sorted[i+1]-sorted[i])
}

// QuantizeWeights quantizes one layer's weights to n bits as Concrete ML does and
// returns the effective integer weights q − zero_point (what the accumulator multiplies
// the inputs by: Concrete ML's quantized Gemm adds −zero_point·Σ inputs when the zero
// point is not 0) with the quantizer.
//
// Symmetric (see [SymmetricAroundZero]): scale = max|w|/(2^(n−1) − 1), q = rint(w/scale)
// clipped to [−2^(n−1), 2^(n−1) − 1]; a zero (pruned) weight stays 0. With n = 1 the
// formula has no level left; the weights then become sign(w) ∈ {−1, 0, 1} with scale
// max|w|. Asymmetric: the unsigned quantizer of [min w, max w] ([NewQuantizer] with lo ≥ 0
// treated as unsigned), so pruned weights map to the zero point and stay 0 once it is
// subtracted. All-zero weights get scale 1.
func QuantizeWeights(w []float64, n int) (q []int64, wq WeightQuantizer) {
	lo, hi := math.Inf(1), math.Inf(-1)
	m := 0.0
	for _, v := range w {
		m = max(m, math.Abs(v))
		lo, hi = min(lo, v), max(hi, v)
	}
	q = make([]int64, len(w))
	if m == 0 {
		return q, WeightQuantizer{Bits: n, Scale: 1, Symmetric: true}
	}
	if n == 1 || SymmetricAroundZero(w) {
		levels := float64(int64(1)<<(n-1) - 1)
		if n == 1 {
			levels = 1
		}
		scale, lowest := m/levels, -levels-1
		if n == 1 {
			lowest = -1
		}
		for i, v := range w {
			q[i] = int64(max(lowest, min(levels, math.RoundToEven(v/scale))))
		}
		return q, WeightQuantizer{Bits: n, Scale: scale, Symmetric: true}
	}
	uq := Quantizer{Bits: n, Scale: (hi - lo) / float64(uint64(1)<<n-1)}
	uq.ZeroPoint = int64(math.RoundToEven(-lo / uq.Scale))
	for i, v := range w {
		q[i] = uq.Quantize(v) - uq.ZeroPoint
	}
	return q, WeightQuantizer{Bits: n, Scale: uq.Scale, ZeroPoint: uq.ZeroPoint}
}

// BitWidth returns the bits Concrete gives an integer range [lo, hi] and whether it is
// signed (lo < 0). A value v needs ⌈log2(v+1)⌉ bits when non-negative (one more when the
// range is signed), ⌈log2|v|⌉ + 1 when negative, and 1 when zero; the range needs the
// most of its two ends.
func BitWidth(lo, hi int64) (width int, signed bool) {
	signed = lo < 0
	need := func(v int64) int {
		switch {
		case v == 0:
			return 1
		case v < 0:
			// ⌈log2|v|⌉ + 1 = bit length of (|v| − 1) plus one.
			return bits.Len64(uint64(-(v + 1))) + 1
		default:
			n := bits.Len64(uint64(v)) // ⌈log2(v+1)⌉
			if signed {
				n++
			}
			return n
		}
	}
	return max(need(lo), need(hi)), signed
}

// RoundLSBs rounds x to a multiple of 2^t, half up, as the rounding of an accumulator to
// its most significant bits does: ⌊x/2^t⌉·2^t = ⌊(x + 2^(t−1))/2^t⌋·2^t, with ⌊·⌋ the floor
// (so −6 with t = 2 gives −4, and −2 gives 0). t = 0 returns x.
func RoundLSBs(x int64, t int) int64 {
	if t <= 0 {
		return x
	}
	return ((x + int64(1)<<(t-1)) >> t) << t
}
