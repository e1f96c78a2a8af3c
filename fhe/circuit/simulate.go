package circuit

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"
)

// simBudget bounds the float64s a simulation batch keeps (accumulators of every layer).
const simBudget = 1 << 23

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
	if batch <= 0 {
		batch = max(1, min(n, simBudget/perRow))
	}
	okClean, okNoisy := 0, 0
	preds := make([]int, 0, n)
	for r0 := 0; r0 < n; r0 += batch {
		r1 := min(n, r0+batch)
		xb := x.Slice(r0, r1, 0, c.inSize).(*mat.Dense)
		clean, noisy := c.simBatch(c.QuantizeInputs(xb), r0, samplers, res.Layers)
		preds = append(preds, noisy...)
		for i := range clean {
			if clean[i] == y[r0+i] {
				okClean++
			}
			if noisy[i] == y[r0+i] {
				okNoisy++
			}
			if clean[i] != noisy[i] {
				res.Changed++
			}
		}
	}
	res.QuantizedAccuracy = float64(okClean) / float64(n)
	res.Accuracy = float64(okNoisy) / float64(n)
	return res, preds, nil
}

// simBatch runs rows r0.. of the test set (q holds them quantized) and returns the
// predictions without and with errors.
func (c *Circuit) simBatch(q *mat.Dense, r0 int, samplers []*shiftSampler, stats []SimLayer) (clean, noisy []int) {
	m, _ := q.Dims()
	accs := make([]*mat.Dense, len(c.stages))
	x := q
	for i, s := range c.stages {
		accs[i] = s.levelled(x)
		if s.tlu != nil {
			x = s.tlu.applyClean(accs[i])
		}
	}
	logits := accs[len(accs)-1]
	clean = make([]int, m)
	for i := range m {
		clean[i] = argmax(logits.RawRowView(i))
	}
	noisy = slices.Clone(clean)

	// Draw this batch's errors, layer by layer, in evaluation order.
	events := make([][]event, len(samplers))
	first := make([]int, m)
	for i := range first {
		first[i] = math.MaxInt
	}
	for l, s := range samplers {
		count := int64(c.stages[l].outSize)
		lo, hi := int64(r0)*count, int64(r0+m)*count
		stats[l].Evaluations += hi - lo
		for s.next < hi {
			at := s.next
			e := s.shift(at)
			row, j := int((at-lo)/count), int((at-lo)%count)
			events[l] = append(events[l], event{row, j, e})
			stats[l].Shifts++
			if e&c.stages[l].tlu.mask == 0 {
				stats[l].Wrapped++
			}
			first[row] = min(first[row], l)
		}
	}

	// Run again the rows that got an error, from their first erring layer on.
	var rows []int     // batch rows in the current noisy set, ascending
	var act *mat.Dense // their inputs to the current stage
	for l, s := range c.stages {
		var joining []int
		for i, f := range first {
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
		act = s.tlu.applyEvents(merged, rows, events[l])
	}
	for k, row := range rows {
		noisy[row] = argmax(act.RawRowView(k))
	}
	return clean, noisy
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
