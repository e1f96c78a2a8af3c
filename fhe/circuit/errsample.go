package circuit

import (
	"math"
	"math/rand/v2"

	"github.com/fhetune/fhetune/fhe"
)

// shiftSampler draws the TLU decoding errors of one layer as FHE makes them. The noise
// at decoding is Gaussian with standard deviation σ; the TLU input index moves by
// e = round(noise/Δ), Δ the step of one unit, which is non-zero with probability
// p = erfc(Δ/(2σ√2)), the set's actual p_error. So Δ/σ = 2κ with κ = √2·erfc⁻¹(p), and
// given e ≠ 0, |e| ≥ k with probability T(k − ½)/T(½), T(x) = ½·erfc(√2·κ·x), and the
// sign is + or − with probability ½ each.
//
// Only the errors that happen are drawn: the evaluations between two errors are a
// geometric number of trials, ⌊ln U / ln(1 − p)⌋. The sampler walks the layer's TLU
// evaluations in order (sample by sample, element by element) and is deterministic for
// its seed. It is not safe for concurrent use.
type shiftSampler struct {
	p      float64
	logQ   float64 // ln(1 − p)
	kappa  float64
	tailLo float64 // T(½) = p/2
	rng    *rand.Rand
	next   int64 // index of the next evaluation that errs (math.MaxInt64: none)
}

func newShiftSampler(p float64, seed, stream uint64) *shiftSampler {
	s := &shiftSampler{p: p, rng: rand.New(rand.NewPCG(seed, stream)), next: math.MaxInt64}
	if p <= 0 {
		return s
	}
	s.logQ = math.Log1p(-p)
	s.kappa = fhe.Kappa(p)
	s.tailLo = s.tail(0.5)
	s.next = s.skip(0)
	return s
}

// tail is T(x), the probability that the noise exceeds x steps.
func (s *shiftSampler) tail(x float64) float64 { return 0.5 * math.Erfc(math.Sqrt2*s.kappa*x) }

// skip returns the index of the first error at or after from.
func (s *shiftSampler) skip(from int64) int64 {
	u := 1 - s.rng.Float64() // (0, 1]
	g := math.Floor(math.Log(u) / s.logQ)
	if !(g < float64(math.MaxInt64-from)) {
		return math.MaxInt64
	}
	return from + int64(g)
}

// shift draws e given e ≠ 0 and moves the sampler past the evaluation at index at.
func (s *shiftSampler) shift(at int64) int64 {
	t := s.rng.Float64() * s.tailLo // |e| ≥ k  ⇔  T(k − ½) ≥ t
	hiK := int64(1)
	for s.tail(float64(hiK)+0.5) >= t && hiK < 1<<40 {
		hiK *= 2
	}
	loK := hiK / 2
	if loK < 1 {
		loK = 1
	}
	// The answer is the largest k in [loK, hiK] with T(k − ½) ≥ t.
	for loK < hiK {
		mid := loK + (hiK-loK+1)/2
		if s.tail(float64(mid)-0.5) >= t {
			loK = mid
		} else {
			hiK = mid - 1
		}
	}
	e := loK
	if s.rng.Uint64()&1 == 1 {
		e = -e
	}
	s.next = s.skip(at + 1)
	return e
}
