package dataset

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Defaults for the zero fields of [SplitConfig].
const (
	DefaultValFrac   = 0.1
	DefaultTestFrac  = 0.2
	DefaultCalibSize = 500
)

// splitStream is the PCG stream of split shuffles, so that Split draws differ from other
// users of the same seed.
const splitStream = 0x5d1f_a7c3_0b4e_9e21

// SplitConfig sets how [Dataset.Split] divides a data set. Zero fields take the defaults.
type SplitConfig struct {
	// ValFrac is the share of samples for validation (early stopping), in (0, 1):
	// a share of the whole set, or of the official training part when the set has a
	// fixed test set (TestFrom > 0). Default [DefaultValFrac] (0.1).
	ValFrac float64
	// TestFrac is the share of the whole set held out for testing, in (0, 1). Ignored
	// when the set has a fixed test set. Default [DefaultTestFrac] (0.2).
	TestFrac float64
	// CalibSize is the number of training samples in the calibration subset used to
	// fix quantization ranges; capped at the training set size. Default
	// [DefaultCalibSize] (500).
	CalibSize int
	// Seed drives the shuffles; zero is a seed like any other.
	Seed uint64
}

// withDefaults fills the zero fields and checks the others.
func (c SplitConfig) withDefaults() (SplitConfig, error) {
	if c.ValFrac == 0 {
		c.ValFrac = DefaultValFrac
	}
	if c.TestFrac == 0 {
		c.TestFrac = DefaultTestFrac
	}
	if c.CalibSize == 0 {
		c.CalibSize = DefaultCalibSize
	}
	switch {
	case !(c.ValFrac > 0 && c.ValFrac < 1):
		return c, fmt.Errorf("%w: ValFrac %v not in (0, 1)", ErrSplit, c.ValFrac)
	case !(c.TestFrac > 0 && c.TestFrac < 1):
		return c, fmt.Errorf("%w: TestFrac %v not in (0, 1)", ErrSplit, c.TestFrac)
	case c.CalibSize < 0:
		return c, fmt.Errorf("%w: CalibSize %d is negative", ErrSplit, c.CalibSize)
	}
	return c, nil
}

// Splits are the parts of a data set: disjoint Train, Val and Test that cover it, and
// Calib, a subset of Train for quantization calibration.
type Splits struct {
	Train, Val, Test, Calib *Dataset
	// Rows gives, for each part, the rows of the source data set it holds, ascending:
	// row i of Train is row Rows.Train[i] of the source.
	Rows struct{ Train, Val, Test, Calib []int }
}

// Split divides d into seeded, stratified train, validation and test sets and picks a
// stratified calibration subset of the training set.
//
// Stratification: for every class c with n_c samples, each split gets either
// ⌊n_c·f⌋ or ⌈n_c·f⌉ of them, f being the split's share, so each class is within one
// sample of its ideal count everywhere; which splits round up is chosen so that the
// split totals also stay within about one sample of their ideal sizes. Within a class
// the samples are dealt after a shuffle seeded by cfg.Seed, so the same data and config
// give the same splits. Rows keep their order in d, and each split's Name, Classes,
// Shape and ClassNames are d's.
//
// With a fixed test set (d.TestFrom > 0), Test is exactly rows TestFrom.. of d, and Val
// is carved from the rows before it with share cfg.ValFrac; cfg.TestFrac is ignored.
//
// Split copies the rows. It fails with an error matching [ErrSplit] when a share is out
// of range or a split would be empty.
func (d *Dataset) Split(cfg SplitConfig) (Splits, error) {
	if err := d.Validate(); err != nil {
		return Splits{}, fmt.Errorf("split: %w", err)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Splits{}, err
	}
	pool := d.Len()
	var shares []float64 // test, val; train takes the rest
	if d.TestFrom > 0 {
		pool = d.TestFrom
		shares = []float64{0, cfg.ValFrac}
	} else {
		if cfg.ValFrac+cfg.TestFrac >= 1 {
			return Splits{}, fmt.Errorf("%w: ValFrac %v + TestFrac %v leave no training samples", ErrSplit, cfg.ValFrac, cfg.TestFrac)
		}
		shares = []float64{cfg.TestFrac, cfg.ValFrac}
	}

	// Shuffle each class of the pool.
	rng := rand.New(rand.NewPCG(cfg.Seed, splitStream))
	members := make([][]int, d.Classes)
	for i := range pool {
		members[d.Y[i]] = append(members[d.Y[i]], i)
	}
	for _, m := range members {
		rng.Shuffle(len(m), func(i, j int) { m[i], m[j] = m[j], m[i] })
	}

	// Deal test, val and train per class.
	sizes := make([]int, d.Classes)
	for c, m := range members {
		sizes[c] = len(m)
	}
	counts := stratifiedCounts(sizes, shares)
	var test, val, train []int
	trainOf := make([][]int, d.Classes) // per class, in shuffled order
	for c, m := range members {
		nt, nv := counts[c][0], counts[c][1]
		test = append(test, m[:nt]...)
		val = append(val, m[nt:nt+nv]...)
		trainOf[c] = m[nt+nv:]
		train = append(train, trainOf[c]...)
	}
	if d.TestFrom > 0 {
		test = test[:0]
		for i := d.TestFrom; i < d.Len(); i++ {
			test = append(test, i)
		}
	}

	// Calibration: a stratified share of the training set.
	calibN := min(cfg.CalibSize, len(train))
	var calib []int
	if len(train) > 0 {
		frac := float64(calibN) / float64(len(train))
		trainSizes := make([]int, d.Classes)
		for c, m := range trainOf {
			trainSizes[c] = len(m)
		}
		for c, k := range stratifiedCounts(trainSizes, []float64{frac}) {
			calib = append(calib, trainOf[c][:k[0]]...)
		}
	}

	var s Splits
	for _, part := range []struct {
		name string
		idx  []int
		dst  **Dataset
		rows *[]int
	}{
		{"train", train, &s.Train, &s.Rows.Train},
		{"validation", val, &s.Val, &s.Rows.Val},
		{"test", test, &s.Test, &s.Rows.Test},
		{"calibration", calib, &s.Calib, &s.Rows.Calib},
	} {
		if len(part.idx) == 0 {
			return Splits{}, fmt.Errorf("%w: the %s split of %s (%d samples, %+v) would be empty", ErrSplit, part.name, d.Name, d.Len(), cfg)
		}
		slices.Sort(part.idx)
		sub, err := d.Subset(part.idx)
		if err != nil {
			return Splits{}, fmt.Errorf("split %s: %w", part.name, err)
		}
		*part.dst = sub
		*part.rows = part.idx
	}
	return s, nil
}

// stratifiedCounts deals each class's n_c samples into len(shares)+1 parts: part j
// gets ⌊n_c·shares[j]⌋ or ⌈n_c·shares[j]⌉, and the last part the rest (also within one
// of its ideal). Rounding is cumulative with one offset per class, which keeps every
// part of every class within one of its ideal; the offset of each class is chosen
// greedily to keep each part's running total closest to its ideal total.
//
// Counts come back as counts[c][j].
func stratifiedCounts(sizes []int, shares []float64) [][]int {
	parts := len(shares) + 1
	errs := make([]float64, parts) // running (dealt - ideal) per part
	out := make([][]int, len(sizes))
	cum := make([]float64, parts)   // cumulative ideal counts Q_j of one class
	fracs := make([]float64, parts) // their fractional parts
	best := make([]int, parts)
	cand := make([]int, parts)
	for c, n := range sizes {
		acc := 0.0
		for j := range parts {
			if j < len(shares) {
				acc += float64(n) * shares[j]
				// Drop float noise such as 10*0.3 = 3.0000000000000004.
				acc = math.Round(acc*1e9) / 1e9
				acc = min(acc, float64(n))
			} else {
				acc = float64(n)
			}
			cum[j] = acc
			fracs[j] = acc - math.Floor(acc)
		}
		// Candidate thresholds: 0 (round every part down) and each nonzero fraction.
		// With threshold θ, cumulative count C_j = ⌊Q_j⌋ + [θ > 0 and frac(Q_j) ≥ θ].
		bestCost := math.Inf(1)
		tried := make(map[float64]bool, parts+1)
		for _, theta := range append([]float64{0}, fracs...) {
			if tried[theta] {
				continue
			}
			tried[theta] = true
			prev := 0
			cost := 0.0
			for j := range parts {
				cj := int(math.Floor(cum[j]))
				if theta > 0 && fracs[j] >= theta {
					cj++
				}
				cand[j] = cj - prev
				prev = cj
				ideal := cum[j]
				if j > 0 {
					ideal -= cum[j-1]
				}
				cost += math.Abs(errs[j] + float64(cand[j]) - ideal)
			}
			if cost < bestCost-1e-12 {
				bestCost = cost
				copy(best, cand)
			}
		}
		out[c] = append([]int(nil), best...)
		for j := range parts {
			ideal := cum[j]
			if j > 0 {
				ideal -= cum[j-1]
			}
			errs[j] += float64(best[j]) - ideal
		}
	}
	return out
}
