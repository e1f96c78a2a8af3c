package circuit

import (
	"math"
	"math/rand/v2"

	"github.com/fhetune/fhetune/fhe"
)

// shiftSampler draws the decoding errors of one kind of decoding of one layer (the TLU
// inputs, or one bit extraction of exact rounding) as FHE makes them, following each
// group's own noise (Concrete's simulation follows each value's noise; the neurons of a
// layer differ by the 2-norm of their weights). The noise at decoding is Gaussian with
// standard deviation σ_g steps; the index moves by e = round(noise), which is non-zero
// with probability p_g = erfc(1/(2σ_g√2)). So 1/σ_g = 2κ_g with κ_g = √2·erfc⁻¹(p_g), and
// given e ≠ 0, |e| ≥ k with probability T(k − ½)/T(½), T(x) = ½·erfc(√2·κ_g·x), and the
// sign is + or − with probability ½ each.
//
// Only the errors that happen are drawn: candidates come at the largest rate p_max as a
// geometric number of trials apart, ⌊ln U / ln(1 − p_max)⌋, and a candidate of group g
// is kept with probability p_g/p_max (thinning). The sampler walks the layer's
// evaluations in order (sample by sample, element by element) and is deterministic for
// its seed. It is not safe for concurrent use.
type shiftSampler struct {
	pMax   float64
	logQ   float64 // ln(1 − p_max)
	p      []float64
	kappa  []float64
	tailLo []float64 // T(½) = p_g/2
	group  int
	count  int64 // elements per sample
	rng    *rand.Rand
	next   int64 // index of the next candidate (math.MaxInt64: none)
}

// newShiftSampler returns a sampler for groups of group consecutive elements out of
// count per sample, with per-group probabilities p.
func newShiftSampler(p []float64, group, count int, seed, stream uint64) *shiftSampler {
	s := &shiftSampler{p: p, group: max(1, group), count: int64(count), rng: rand.New(rand.NewPCG(seed, stream)), next: math.MaxInt64}
	for _, v := range p {
		s.pMax = max(s.pMax, v)
	}
	if s.pMax <= 0 {
		return s
	}
	s.kappa = make([]float64, len(p))
	s.tailLo = make([]float64, len(p))
	for g, v := range p {
		if v > 0 {
			s.kappa[g] = fhe.Kappa(v)
			s.tailLo[g] = s.tail(g, 0.5)
		}
	}
	s.logQ = math.Log1p(-s.pMax)
	s.next = s.skip(0)
	return s
}

// tail is T(x) of group g, the probability that the noise exceeds x steps.
func (s *shiftSampler) tail(g int, x float64) float64 {
	return 0.5 * math.Erfc(math.Sqrt2*s.kappa[g]*x)
}

// skip returns the index of the first candidate at or after from.
func (s *shiftSampler) skip(from int64) int64 {
	u := 1 - s.rng.Float64() // (0, 1]
	g := math.Floor(math.Log(u) / s.logQ)
	if !(g < float64(math.MaxInt64-from)) {
		return math.MaxInt64
	}
	return from + int64(g)
}

// shift decides the candidate at index at: it returns e (0 when thinning drops it) and
// moves the sampler past it.
func (s *shiftSampler) shift(at int64) int64 {
	defer func() { s.next = s.skip(at + 1) }()
	g := int(at%s.count) / s.group
	if s.p[g] < s.pMax && s.rng.Float64()*s.pMax >= s.p[g] {
		return 0
	}
	t := s.rng.Float64() * s.tailLo[g] // |e| ≥ k  ⇔  T(k − ½) ≥ t
	hiK := int64(1)
	for s.tail(g, float64(hiK)+0.5) >= t && hiK < 1<<40 {
		hiK *= 2
	}
	loK := max(1, hiK/2)
	// The answer is the largest k in [loK, hiK] with T(k − ½) ≥ t.
	for loK < hiK {
		mid := loK + (hiK-loK+1)/2
		if s.tail(g, float64(mid)-0.5) >= t {
			loK = mid
		} else {
			hiK = mid - 1
		}
	}
	e := loK
	if s.rng.Uint64()&1 == 1 {
		e = -e
	}
	return e
}

// DrawTLUShifts draws the index shifts of count TLU decodings whose noise has standard
// deviation sigma steps of the TLU input (as [LayerNoise.TLU] holds it), with the
// sampler [Circuit.Simulate] injects errors with (one group; seed and stream as Simulate
// gives its first TLU layer), and returns how many decodings moved by each non-zero
// shift. It exists so that fhe/executor can compare the simulated errors with those of
// real bootstraps; it is deterministic for its seed.
func DrawTLUShifts(sigma float64, count int64, seed uint64) map[int64]int64 {
	out := map[int64]int64{}
	s := newShiftSampler([]float64{pErrorOfSigma(sigma)}, 1, 1, seed, 0)
	for s.next < count {
		if e := s.shift(s.next); e != 0 {
			out[e]++
		}
	}
	return out
}

// gaussTail returns Q(x) = P(N(0, 1) > x).
func gaussTail(x float64) float64 { return 0.5 * math.Erfc(x/math.Sqrt2) }

// elementUniform returns a uniform number in [0, 1) for one element of one sample of
// one layer: a counter-based draw (SplitMix64 of the four keys), so that it does not
// depend on how samples are batched or in which order they run.
func elementUniform(seed uint64, layer, sample, elem int) float64 {
	z := seed ^ 0x9e3779b97f4a7c15*uint64(layer+1) ^ 0xbf58476d1ce4e5b9*uint64(sample+1) ^ 0x94d049bb133111eb*uint64(elem+1)
	for range 2 {
		z += 0x9e3779b97f4a7c15
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		z ^= z >> 31
	}
	return float64(z>>11) / (1 << 53)
}

// approxDeviation returns the steps by which approximate rounding moves a TLU index
// whose exact position lies a fraction f ∈ [0, 1) past the lower boundary of its cell,
// under Gaussian noise of σ steps, for the uniform draw u: the index is ⌊y + ε⌋ with
// ε ~ N(0, σ²), so it moves up by k ≥ 1 with probability Q((k − f)/σ) − Q((k + 1 − f)/σ)
// and down by k with probability Q((k − 1 + f)/σ) − Q((k + f)/σ) (inverse CDF on u).
func approxDeviation(f, sigma, u float64) int64 {
	if sigma <= 0 {
		return 0
	}
	if up := gaussTail((1 - f) / sigma); u < up {
		k := int64(1)
		for k < 1<<20 && gaussTail((float64(k)+1-f)/sigma) > u {
			k++
		}
		return k
	} else {
		u -= up
	}
	if down := gaussTail(f / sigma); u < down {
		k := int64(1)
		for k < 1<<20 && gaussTail((float64(k)+f)/sigma) > u {
			k++
		}
		return -k
	}
	return 0
}
