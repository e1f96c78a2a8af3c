package circuit

import (
	"math"
	"math/bits"
)

// Quantizer is Concrete ML's unsigned asymmetric uniform quantizer of inputs and
// activations: n bits, a scale and an integer zero point, so that an integer q stands for
// the real value Scale·(q − ZeroPoint).
type Quantizer struct {
	Bits      int     `json:"bits"`
	Scale     float64 `json:"scale"`
	ZeroPoint int64   `json:"zero_point"`
}

// stabilityConst is the range below which Concrete ML treats a tensor as one value.
const stabilityConst = 1e-6

// NewQuantizer fits a bits-bit unsigned quantizer to the calibration range [lo, hi]:
//
//	scale = (hi − lo)/(2^bits − 1), zero_point = round(−lo·(2^bits − 1)/(hi − lo))
//
// (round half to even, as numpy rounds).
//
// When hi − lo < 10^−6 the range is one value v: a value near 0 gets scale 1 and zero
// point round(−lo); any other v gets scale v and zero point 0, so that v quantizes to 1.
func NewQuantizer(bits int, lo, hi float64) Quantizer {
	levels := float64(uint64(1)<<bits - 1)
	if hi-lo < stabilityConst {
		if math.Abs(hi) < stabilityConst {
			return Quantizer{Bits: bits, Scale: 1, ZeroPoint: int64(math.RoundToEven(-lo))}
		}
		return Quantizer{Bits: bits, Scale: hi, ZeroPoint: 0}
	}
	return Quantizer{
		Bits:      bits,
		Scale:     (hi - lo) / levels,
		ZeroPoint: int64(math.RoundToEven(-lo * levels / (hi - lo))),
	}
}

// Max returns the largest integer, 2^Bits − 1.
func (q Quantizer) Max() int64 { return int64(1)<<q.Bits - 1 }

// Quantize returns ⌊x/Scale + (ZeroPoint + ½)⌋ clipped to [0, 2^Bits − 1].
func (q Quantizer) Quantize(x float64) int64 {
	v := math.Floor(x/q.Scale + (float64(q.ZeroPoint) + 0.5))
	if !(v > 0) { // also NaN
		return 0
	}
	if m := float64(q.Max()); v > m {
		return q.Max()
	}
	return int64(v)
}

// Dequantize returns Scale·(v − ZeroPoint).
func (q Quantizer) Dequantize(v int64) float64 { return q.Scale * float64(v-q.ZeroPoint) }

// QuantizeWeights quantizes one layer's weights symmetrically to n bits: scale =
// max|w|/(2^(n−1) − 1) and q = ⌊w/scale + ½⌋, so |q| ≤ 2^(n−1) − 1
// and a zero (pruned) weight stays 0. With n = 1 the formula has no level left; the
// weights then become sign(w) ∈ {−1, 0, 1} with scale max|w|. All-zero weights get scale 1.
func QuantizeWeights(w []float64, n int) (q []int64, scale float64) {
	m := 0.0
	for _, v := range w {
		m = max(m, math.Abs(v))
	}
	q = make([]int64, len(w))
	if m == 0 {
		return q, 1
	}
	levels := float64(int64(1)<<(n-1) - 1)
	if n == 1 {
		levels = 1
	}
	scale = m / levels
	for i, v := range w {
		r := math.Floor(v/scale + 0.5)
		q[i] = int64(max(-levels, min(levels, r)))
	}
	return q, scale
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
