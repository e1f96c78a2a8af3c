package circuit

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	"github.com/fhetune/fhetune/fhe"
	"gonum.org/v1/gonum/mat"
)

// simBudget bounds the float64s a simulation batch keeps (its inputs and the
// accumulators and outputs of every layer): batches of a few MB stay in cache and keep
// GEMM efficient; the batches run on all cores.
const simBudget = 1 << 19

// Noise is the noise of every decoding of a circuit under its crypto sets, in steps of
// what each decoding reads: what Simulate draws errors from. Make it with
// [Circuit.Noise] from chosen parameters, or [UniformNoise] from one p_error.
type Noise struct {
	// Layers holds one entry per TLU layer.
	Layers []LayerNoise `json:"layers"`
}

// LayerNoise is the noise of one TLU layer's decodings, per group of elements (a dense
// layer's neurons, a convolution's channels; one group for a pool or a max pool).
type LayerNoise struct {
	// TLU is the standard deviation of the noise at each TLU input, in steps of its
	// P-bit message (an index moves when the noise passes half a step).
	TLU []float64 `json:"tlu"`
	// Extract[i] is, for exact rounding, the standard deviation at the decoding of bit
	// extraction i, in units of 2^i accumulator steps (it misreads past half a unit).
	Extract [][]float64 `json:"extract,omitempty"`
}

// sigmaOfPError returns the noise (in steps) whose decoding errs with probability p:
// 1/(2κ), κ = √2·erfc⁻¹(p); 0 for p = 0.
func sigmaOfPError(p float64) float64 {
	if p <= 0 {
		return 0
	}
	return 1 / (2 * fhe.Kappa(p))
}

// pErrorOfSigma is the inverse of sigmaOfPError: erfc(1/(2σ√2)).
func pErrorOfSigma(sigma float64) float64 {
	if sigma <= 0 {
		return 0
	}
	return fhe.PErrorOfKappa(1 / (2 * sigma))
}

// UniformNoise returns the noise under which every decoding of c (each TLU, each bit
// extraction) errs with probability p, in [0, 1).
func UniformNoise(c *Circuit, p float64) Noise {
	s := sigmaOfPError(p)
	n := Noise{Layers: make([]LayerNoise, c.TLULayers())}
	for i := range n.Layers {
		st := c.stages[i]
		groups := len(st.norm2Sq)
		n.Layers[i].TLU = slices.Repeat([]float64{s}, groups)
		for range c.Layers[i].Extractions {
			n.Layers[i].Extract = append(n.Layers[i].Extract, slices.Repeat([]float64{s}, groups))
		}
	}
	return n
}

// SimResult is what Simulate measured on a test set.
type SimResult struct {
	// Accuracy is the accuracy with the TLU errors injected.
	Accuracy float64 `json:"accuracy"`
	// QuantizedAccuracy is the accuracy of the same integer circuit without errors.
	QuantizedAccuracy float64 `json:"quantized_accuracy"`
	// Samples is the number of test samples.
	Samples int `json:"samples"`
	// Changed counts the samples whose prediction the errors changed.
	Changed int `json:"changed"`
	// Layers holds one entry per TLU layer.
	Layers []SimLayer `json:"layers"`
}

// SimLayer counts the TLU evaluations of one layer and the errors injected into them.
type SimLayer struct {
	Name string `json:"name"`
	// PError is the error probability of the layer's worst TLU decoding.
	PError      float64 `json:"p_error"`
	Evaluations int64   `json:"evaluations"`
	// Shifts counts the TLU decodings that erred (and, with approximate rounding, the
	// indices the noise moved across a rounding boundary); ExpectedShifts is the sum of
	// the error probabilities of the TLU decodings (exact rounding or none).
	Shifts         int64   `json:"shifts"`
	ExpectedShifts float64 `json:"expected_shifts"`
	// ExtractionErrors counts the bit extractions of exact rounding that misread.
	ExtractionErrors int64 `json:"extraction_errors"`
	// OutputErrors counts the TLUs whose output the injected errors changed, against the
	// error-free TLU of the same accumulator: what decrypting a TLU's output observes (an
	// index moved by one often maps to the same requantized value).
	OutputErrors int64 `json:"output_errors"`
	// Overflows counts the accumulators (without errors) outside the calibration range:
	// a TLU input beyond the range its precision covers wraps around, as under FHE.
	Overflows int64 `json:"overflows"`
}

// event is one injected error: element j of batch row row has its accumulator moved by
// s (a misread bit extraction) or its TLU index by e.
type event struct {
	row, j int
	s, e   int64
}

// Simulate runs the circuit on the standardized test batch x (one row per sample) with
// labels y, exactly in integers, with the decoding errors of FHE injected as noise
// describes them (nil: none):
//
//   - a TLU decoding of group g errs with probability erfc(1/(2σ√2)) and moves its
//     index by e steps, modulo 2^(P+1), the index range a bootstrap reads (an index in
//     the padding half returns the negated table entry);
//   - a bit extraction i of exact rounding that misreads moves the accumulator by ±2^i
//     before it is rounded (the truncation then removes the wrong bit), which the
//     rounding absorbs unless the value is near a rounding boundary;
//   - approximate rounding reads ⌊(v + ½)/2^t + ½ + ε⌋ with ε the TLU noise (σ steps):
//     off by one near the boundaries, as Concrete's approximate rounding is.
//
// Only the errors that happen are drawn (see the package doc). The result depends on
// seed and not on how the work is batched. Both the accuracy with errors and the
// accuracy without come from one pass: the circuit runs without errors, then only the
// samples that got an error are run again, from the first layer where one struck.
func (c *Circuit) Simulate(x *mat.Dense, y []int, noise *Noise, seed uint64) (SimResult, error) {
	res, _, err := c.simulate(x, y, noise, seed, 0)
	return res, err
}

// layerSampler holds the samplers of one TLU layer.
type layerSampler struct {
	tlu     *shiftSampler
	extract []*shiftSampler
	// approx is the noise of approximate rounding (nil otherwise), with bound[r], for an
	// accumulator residue r modulo 2^t, the largest deviation probability over groups.
	approx []float64
	bound  []float64
}

// simulate is Simulate with batches of batch rows (0: as many as simBudget allows); it
// also returns the predictions with errors.
func (c *Circuit) simulate(x *mat.Dense, y []int, noise *Noise, seed uint64, batch int) (SimResult, []int, error) {
	if err := checkData(x, y, c.inSize); err != nil {
		return SimResult{}, nil, err
	}
	for _, l := range y {
		if l >= c.outSize {
			return SimResult{}, nil, fmt.Errorf("%w: label %d, the circuit has %d outputs", ErrData, l, c.outSize)
		}
	}
	nt := c.TLULayers()
	if noise != nil && len(noise.Layers) != nt {
		return SimResult{}, nil, fmt.Errorf("%w: noise of %d layers for %d TLU layers", ErrConfig, len(noise.Layers), nt)
	}
	res := SimResult{Samples: len(y), Layers: make([]SimLayer, nt)}
	samplers := make([]layerSampler, nt)
	for i := range nt {
		res.Layers[i].Name = c.Layers[i].Name
		var ln LayerNoise
		if noise != nil {
			ln = noise.Layers[i]
		}
		ls, err := c.newLayerSampler(i, ln, seed)
		if err != nil {
			return SimResult{}, nil, err
		}
		samplers[i] = ls
		for _, s := range ln.TLU {
			res.Layers[i].PError = max(res.Layers[i].PError, pErrorOfSigma(s))
		}
	}
	perRow := c.inSize
	for _, s := range c.stages {
		perRow += 2 * s.outSize
	}
	n, _ := x.Dims()
	workers := runtime.GOMAXPROCS(0)
	if batch <= 0 {
		batch = max(1, min(n, max(64, simBudget/perRow)))
	}
	clean, noisy := make([]int, n), make([]int, n)
	// The value-free errors are drawn here, batch after batch in evaluation order, so
	// that they do not depend on the batching; the batches then run on all cores.
	jobs := make(chan simJob)
	var done []simJob
	var wg sync.WaitGroup
	for range min(workers, (n+batch-1)/batch) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			qbuf := mat.NewDense(min(batch, n), c.inSize, nil)
			for j := range jobs {
				qb := qbuf.Slice(0, j.r1-j.r0, 0, c.inSize).(*mat.Dense)
				c.quantizeInputsTo(qb, x.Slice(j.r0, j.r1, 0, c.inSize).(*mat.Dense))
				c.simBatch(qb, j, samplers, seed, clean[j.r0:j.r1], noisy[j.r0:j.r1])
			}
		}()
	}
	for r0 := 0; r0 < n; r0 += batch {
		j := c.drawErrors(r0, min(n, r0+batch), samplers, res.Layers)
		done = append(done, j)
		jobs <- j
	}
	close(jobs)
	wg.Wait()
	for _, j := range done {
		for l := range j.overflows {
			res.Layers[l].Overflows += j.overflows[l]
			res.Layers[l].Shifts += j.approxShifts[l]
			res.Layers[l].OutputErrors += j.outputErrors[l]
		}
	}
	for i := range nt {
		if ln := samplers[i].tlu; ln != nil && samplers[i].approx == nil {
			for g, p := range ln.p {
				res.Layers[i].ExpectedShifts += p * float64(n*c.groupSize(i, g))
			}
		}
	}
	okClean, okNoisy := 0, 0
	for i := range n {
		if clean[i] == y[i] {
			okClean++
		}
		if noisy[i] == y[i] {
			okNoisy++
		}
		if clean[i] != noisy[i] {
			res.Changed++
		}
	}
	res.QuantizedAccuracy = float64(okClean) / float64(n)
	res.Accuracy = float64(okNoisy) / float64(n)
	return res, noisy, nil
}

// groupSize returns the number of elements of group g of stage l.
func (c *Circuit) groupSize(l, g int) int {
	st := c.stages[l]
	return min(st.group, st.evals-g*st.group)
}

// newLayerSampler checks one layer's noise and prepares its samplers.
func (c *Circuit) newLayerSampler(i int, ln LayerNoise, seed uint64) (layerSampler, error) {
	st, info := c.stages[i], c.Layers[i]
	groups := len(st.norm2Sq)
	check := func(what string, s []float64) ([]float64, error) {
		if s == nil {
			return make([]float64, groups), nil
		}
		if len(s) != groups {
			return nil, fmt.Errorf("%w: layer %s: %s noise for %d groups, the layer has %d", ErrConfig, info.Name, what, len(s), groups)
		}
		for _, v := range s {
			if !(v >= 0) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("%w: layer %s: %s noise %v", ErrConfig, info.Name, what, v)
			}
		}
		return s, nil
	}
	sig, err := check("TLU", ln.TLU)
	if err != nil {
		return layerSampler{}, err
	}
	stream := uint64(i) * 64
	var ls layerSampler
	if info.LSBsRemoved > 0 && st.tlu.method == Approximate {
		ls.approx = sig
		ls.bound = approxBound(st.tlu.shift, slices.Max(sig))
	} else {
		ps := make([]float64, groups)
		for g, s := range sig {
			ps[g] = pErrorOfSigma(s)
		}
		ls.tlu = newShiftSampler(ps, st.group, st.evals, seed, stream)
	}
	if ln.Extract != nil && len(ln.Extract) != info.Extractions {
		return layerSampler{}, fmt.Errorf("%w: layer %s: noise of %d extractions, the layer has %d", ErrConfig, info.Name, len(ln.Extract), info.Extractions)
	}
	for b := range info.Extractions {
		var s []float64
		if ln.Extract != nil {
			s = ln.Extract[b]
		}
		es, err := check("extraction", s)
		if err != nil {
			return layerSampler{}, err
		}
		ps := make([]float64, groups)
		for g, v := range es {
			ps[g] = pErrorOfSigma(v)
		}
		ls.extract = append(ls.extract, newShiftSampler(ps, st.group, st.evals, seed, stream+1+uint64(b)))
	}
	return ls, nil
}

// approxBound returns, for each residue r of an accumulator modulo 2^t, the probability
// that approximate rounding moves its index under noise sigma: an upper bound for every
// group with less noise.
func approxBound(t int, sigma float64) []float64 {
	out := make([]float64, 1<<t)
	for r := range out {
		f := approxFrac(int64(r), t)
		out[r] = gaussTail((1-f)/sigma) + gaussTail(f/sigma)
	}
	return out
}

// approxFrac returns the fraction past its cell's lower boundary of accumulator v read
// at its top bits: frac((v + ½)/2^t + ½) (the ½ of an accumulator step is Concrete's
// centring of the distribution, symetrize_deltas).
func approxFrac(v int64, t int) float64 {
	y := (float64(v)+0.5)/float64(int64(1)<<t) + 0.5
	return y - math.Floor(y)
}

// approxIndex returns the index approximate rounding reads for accumulator v of
// element j of a sample, or the exact index when the draw leaves it in its cell; dev is
// the deviation.
func (t *tlu) approxIndex(v int64, sigma, bound, u float64) (idx, dev int64) {
	r := (v + int64(1)<<(t.shift-1)) >> t.shift
	if u < bound {
		dev = approxDeviation(approxFrac(v, t.shift), sigma, u)
	}
	return (r + dev + t.offset) & t.mask2(), dev
}

// simJob is one batch of test rows r0..r1−1 with its errors: events[l] for TLU layer l
// (batch-relative rows, in order), and first[i], the first layer where row i errs
// (math.MaxInt: none).
type simJob struct {
	r0, r1 int
	events [][]event
	first  []int
	// overflows counts, per TLU layer, the accumulators outside the calibration range,
	// and approxShifts the indices approximate rounding moved (on the error-free path).
	overflows    []int64
	approxShifts []int64
	// outputErrors counts, per TLU layer, the outputs the errors changed.
	outputErrors []int64
}

// drawErrors draws the value-free errors of rows r0..r1−1, layer by layer in
// evaluation order, and counts them in stats.
func (c *Circuit) drawErrors(r0, r1 int, samplers []layerSampler, stats []SimLayer) simJob {
	m := r1 - r0
	j := simJob{r0: r0, r1: r1, events: make([][]event, len(samplers)), first: make([]int, m),
		overflows: make([]int64, len(samplers)), approxShifts: make([]int64, len(samplers)), outputErrors: make([]int64, len(samplers))}
	for i := range j.first {
		j.first[i] = math.MaxInt
	}
	for l, ls := range samplers {
		count := int64(c.stages[l].evals)
		lo, hi := int64(r0)*count, int64(r1)*count
		stats[l].Evaluations += hi - lo
		take := func(s *shiftSampler, bit int) {
			for s != nil && s.next < hi {
				at := s.next
				e := s.shift(at)
				if e == 0 {
					continue
				}
				row, k := int((at-lo)/count), int((at-lo)%count)
				ev := event{row: row, j: k}
				if bit < 0 {
					ev.e = e
					stats[l].Shifts++
				} else {
					ev.s = e << bit
					stats[l].ExtractionErrors++
				}
				j.events[l] = append(j.events[l], ev)
				j.first[row] = min(j.first[row], l)
			}
		}
		for b, s := range ls.extract {
			take(s, b)
		}
		take(ls.tlu, -1)
		slices.SortStableFunc(j.events[l], func(a, b event) int { return a.row - b.row })
	}
	return j
}

// simBatch runs one batch (q holds its rows quantized) and writes the predictions
// without and with errors into clean and noisy.
func (c *Circuit) simBatch(q *mat.Dense, j simJob, samplers []layerSampler, seed uint64, clean, noisy []int) {
	accs := make([]*mat.Dense, len(c.stages))
	x := q
	for i, s := range c.stages {
		accs[i] = s.levelled(x)
		if s.tlu != nil {
			x, j.overflows[i] = s.activate(accs[i], c.Layers[i].AccMin, c.Layers[i].AccMax)
			if samplers[i].approx != nil {
				j.approxShifts[i] = c.approxRows(i, accs[i], j, samplers[i], seed)
			}
		}
	}
	out := c.stages[len(c.stages)-1].out
	logits := accs[len(accs)-1]
	for i := range clean {
		clean[i] = out.predict(logits.RawRowView(i))
	}
	copy(noisy, clean)

	// Run again the rows that got an error, from their first erring layer on.
	var rows []int     // batch rows in the current noisy set, ascending
	var act *mat.Dense // their inputs to the current stage
	for l, s := range c.stages {
		var joining []int
		for i, f := range j.first {
			if f == l {
				joining = append(joining, i)
			}
		}
		if len(rows) == 0 && len(joining) == 0 {
			continue
		}
		var acc *mat.Dense
		if len(rows) > 0 {
			acc = s.levelled(act)
			if acc == act {
				acc = mat.DenseCopyOf(act)
			}
		}
		all := append(slices.Clone(rows), joining...)
		merged := mat.NewDense(len(all), s.accSize(), nil)
		for k, row := range all {
			if k < len(rows) {
				copy(merged.RawRowView(k), acc.RawRowView(k))
			} else {
				copy(merged.RawRowView(k), accs[l].RawRowView(row))
			}
		}
		rows, act = all, merged
		if s.tlu == nil {
			break
		}
		act = c.applyNoisy(l, merged, rows, j, samplers[l], seed)
	}
	for k, row := range rows {
		noisy[row] = out.predict(act.RawRowView(k))
	}
}

// approxRows marks in j.first the rows whose approximate rounding at layer l moves an
// index on the error-free path, and returns how many indices moved.
func (c *Circuit) approxRows(l int, acc *mat.Dense, j simJob, ls layerSampler, seed uint64) int64 {
	t := c.stages[l].tlu
	mask := int64(1)<<t.shift - 1
	var moved int64
	r, _ := acc.Dims()
	for i := 0; i < r; i++ {
		for e, v := range acc.RawRowView(i) {
			a := int64(v)
			u := elementUniform(seed, l, j.r0+i, e)
			b := ls.bound[a&mask]
			if u >= b {
				continue
			}
			if _, dev := t.approxIndex(a, ls.approx[e/t.fn.group], b, u); dev != 0 {
				moved++
				j.first[i] = min(j.first[i], l)
			}
		}
	}
	return moved
}

// applyNoisy returns the TLU outputs of layer l for the accumulators acc (row k is
// batch row rows[k]) with the errors of j (sorted by batch row) and, for approximate
// rounding, the deviations its noise draws.
func (c *Circuit) applyNoisy(l int, acc *mat.Dense, rows []int, j simJob, ls layerSampler, seed uint64) *mat.Dense {
	if p := c.stages[l].pool; p != nil {
		return c.poolNoisy(l, p, acc, rows, j)
	}
	t := c.stages[l].tlu
	var out *mat.Dense
	if ls.approx == nil {
		out = t.applyClean(acc)
	} else {
		r, col := acc.Dims()
		out = mat.NewDense(r, col, nil)
		mask := int64(1)<<t.shift - 1
		for k := 0; k < r; k++ {
			dst := out.RawRowView(k)
			for e, v := range acc.RawRowView(k) {
				a := int64(v)
				g := e / t.fn.group
				idx, dev := t.approxIndex(a, ls.approx[g], ls.bound[a&mask], elementUniform(seed, l, j.r0+rows[k], e))
				dst[e] = t.lookup(g, idx)
				if dev != 0 && dst[e] != t.lookup(g, t.index(a)) {
					j.outputErrors[l]++
				}
			}
		}
	}
	if len(j.events[l]) == 0 {
		return out
	}
	pos := make(map[int]int, len(rows))
	for k, row := range rows {
		pos[row] = k
	}
	type key struct{ k, j int }
	moved := map[key][2]int64{}
	for _, ev := range j.events[l] {
		if k, ok := pos[ev.row]; ok {
			m := moved[key{k, ev.j}]
			moved[key{k, ev.j}] = [2]int64{m[0] + ev.s, m[1] + ev.e}
		}
	}
	for kj, m := range moved {
		idx := (t.index(int64(acc.At(kj.k, kj.j))+m[0]) + m[1]) & t.mask2()
		v := t.lookup(kj.j/t.fn.group, idx)
		if v != out.At(kj.k, kj.j) {
			j.outputErrors[l]++
		}
		out.Set(kj.k, kj.j, v)
	}
	return out
}

// poolNoisy is applyNoisy for max-pool stage l: each comparison's TLU index moved by
// the errors drawn for its evaluation.
func (c *Circuit) poolNoisy(l int, p *maxPool, acc *mat.Dense, rows []int, j simJob) *mat.Dense {
	byRow := map[int]map[int]int64{}
	for _, ev := range j.events[l] {
		m := byRow[ev.row]
		if m == nil {
			m = map[int]int64{}
			byRow[ev.row] = m
		}
		m[ev.j] += ev.e
	}
	out, _, changed := p.run(c.stages[l].tlu, acc, func(k int) map[int]int64 { return byRow[rows[k]] }, 0, 0)
	j.outputErrors[l] += changed
	return out
}

// outside counts the entries of m outside [lo, hi].
func outside(m *mat.Dense, lo, hi int64) int64 {
	r, _ := m.Dims()
	flo, fhi := float64(lo), float64(hi)
	var n int64
	for i := 0; i < r; i++ {
		for _, v := range m.RawRowView(i) {
			if v < flo || v > fhi {
				n++
			}
		}
	}
	return n
}
