package circuit

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	"gonum.org/v1/gonum/mat"
)

// simBudget bounds the float64s a simulation batch keeps (its inputs and the
// accumulators and outputs of every layer): batches of a few MB stay in cache and keep
// GEMM efficient; the batches run on all cores.
const simBudget = 1 << 19

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
	Name        string  `json:"name"`
	PError      float64 `json:"p_error"`
	Evaluations int64   `json:"evaluations"`
	Shifts      int64   `json:"shifts"`
	// Wrapped counts the shifts that left the index unchanged modulo 2^precision.
	Wrapped int64 `json:"wrapped"`
	// Overflows counts the accumulators (without errors) outside the calibration range:
	// a TLU input beyond the range its precision covers wraps around, as under FHE.
	Overflows int64 `json:"overflows"`
}

// event is one injected error: TLU element j of batch row row moves by e.
type event struct {
	row, j int
	e      int64
}

// Simulate runs the circuit on the standardized test batch x (one row per sample) with
// labels y, exactly in integers, and with the decoding errors of FHE injected into the TLUs:
// pErrors[i] is the actual error probability of every TLU of TLU layer i (the p_error of
// its crypto set); nil or zeros mean no errors. Each TLU evaluation's input index is
// moved by e = round(noise/Δ), modulo 2^precision, with e ≠ 0 with probability exactly
// pErrors[i]; only the errors that happen are drawn (see the package doc). The result
// depends on seed and not on how the work is batched.
//
// Both the accuracy with errors and the accuracy without come from one pass: the
// circuit runs without errors, then only the samples that got an error are run again,
// from the first layer where one struck.
func (c *Circuit) Simulate(x *mat.Dense, y []int, pErrors []float64, seed uint64) (SimResult, error) {
	res, _, err := c.simulate(x, y, pErrors, seed, 0)
	return res, err
}

// simulate is Simulate with batches of batch rows (0: as many as simBudget allows); it
// also returns the predictions with errors.
func (c *Circuit) simulate(x *mat.Dense, y []int, pErrors []float64, seed uint64, batch int) (SimResult, []int, error) {
	if err := checkData(x, y, c.inSize); err != nil {
		return SimResult{}, nil, err
	}
	for _, l := range y {
		if l >= c.outSize {
			return SimResult{}, nil, fmt.Errorf("%w: label %d, the circuit has %d outputs", ErrData, l, c.outSize)
		}
	}
	nt := c.TLULayers()
	if pErrors != nil && len(pErrors) != nt {
		return SimResult{}, nil, fmt.Errorf("%w: %d p_error values for %d TLU layers", ErrConfig, len(pErrors), nt)
	}
	res := SimResult{Samples: len(y), Layers: make([]SimLayer, nt)}
	samplers := make([]*shiftSampler, nt)
	for i := range nt {
		p := 0.0
		if pErrors != nil {
			p = pErrors[i]
		}
		if !(p >= 0 && p < 1) {
			return SimResult{}, nil, fmt.Errorf("%w: p_error %v of layer %s outside [0, 1)", ErrConfig, p, c.Layers[i].Name)
		}
		samplers[i] = newShiftSampler(p, seed, uint64(i))
		res.Layers[i] = SimLayer{Name: c.Layers[i].Name, PError: p}
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
	// The errors are drawn here, batch after batch in evaluation order, so that they do
	// not depend on the batching; the batches then run on all cores.
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
				c.simBatch(qb, j, clean[j.r0:j.r1], noisy[j.r0:j.r1])
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
		for l, o := range j.overflows {
			res.Layers[l].Overflows += o
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

// simJob is one batch of test rows r0..r1−1 with its errors: events[l] for TLU layer l
// (batch-relative rows, in order), and first[i], the first layer where row i errs
// (math.MaxInt: none).
type simJob struct {
	r0, r1 int
	events [][]event
	first  []int
	// overflows counts, per TLU layer, the accumulators outside the calibration range.
	overflows []int64
}

// drawErrors draws the errors of rows r0..r1−1, layer by layer in evaluation order, and
// counts them in stats.
func (c *Circuit) drawErrors(r0, r1 int, samplers []*shiftSampler, stats []SimLayer) simJob {
	m := r1 - r0
	j := simJob{r0: r0, r1: r1, events: make([][]event, len(samplers)), first: make([]int, m),
		overflows: make([]int64, len(samplers))}
	for i := range j.first {
		j.first[i] = math.MaxInt
	}
	for l, s := range samplers {
		count := int64(c.stages[l].outSize)
		lo, hi := int64(r0)*count, int64(r1)*count
		stats[l].Evaluations += hi - lo
		for s.next < hi {
			at := s.next
			e := s.shift(at)
			row, k := int((at-lo)/count), int((at-lo)%count)
			j.events[l] = append(j.events[l], event{row, k, e})
			stats[l].Shifts++
			if e&c.stages[l].tlu.mask == 0 {
				stats[l].Wrapped++
			}
			j.first[row] = min(j.first[row], l)
		}
	}
	return j
}

// simBatch runs one batch (q holds its rows quantized) and writes the predictions
// without and with errors into clean and noisy.
func (c *Circuit) simBatch(q *mat.Dense, j simJob, clean, noisy []int) {
	accs := make([]*mat.Dense, len(c.stages))
	x := q
	for i, s := range c.stages {
		accs[i] = s.levelled(x)
		if s.tlu != nil {
			j.overflows[i] = outside(accs[i], c.Layers[i].AccMin, c.Layers[i].AccMax)
			x = s.tlu.applyClean(accs[i])
		}
	}
	logits := accs[len(accs)-1]
	for i := range clean {
		clean[i] = argmax(logits.RawRowView(i))
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
		merged := mat.NewDense(len(all), s.outSize, nil)
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
		act = s.tlu.applyEvents(merged, rows, j.events[l])
	}
	for k, row := range rows {
		noisy[row] = argmax(act.RawRowView(k))
	}
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

// applyEvents returns the TLU outputs of the accumulators acc (row k is batch row
// rows[k]) with the errors of evs (sorted by batch row) added to the table indices.
func (t *tlu) applyEvents(acc *mat.Dense, rows []int, evs []event) *mat.Dense {
	out := t.applyClean(acc)
	pos := make(map[int]int, len(rows))
	for k, row := range rows {
		pos[row] = k
	}
	for _, ev := range evs {
		k, ok := pos[ev.row]
		if !ok {
			continue
		}
		idx := (t.index(acc.At(k, ev.j)) + ev.e) & t.mask
		out.Set(k, ev.j, t.table[idx])
	}
	return out
}
