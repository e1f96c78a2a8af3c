package executor

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fhetune/fhetune/fhe"
	"github.com/fhetune/fhetune/fhe/circuit"
	"github.com/sp301415/tfhe-go/tfhe"
	"gonum.org/v1/gonum/mat"
)

// LayerRun is what one layer of one encrypted inference did.
type LayerRun struct {
	Name string `json:"name"`
	// Bootstraps counts the layer's bootstraps (TLUs and bit extractions).
	Bootstraps int `json:"bootstraps"`
	// Time is the layer's wall time.
	Time time.Duration `json:"-"`
	// TLUErrors counts the TLUs whose decrypted output differs from what the error-free
	// TLU gives the accumulator it actually received (decrypted with the secret key):
	// the errors made at this layer, not those carried from earlier layers.
	TLUErrors int `json:"tlu_errors"`
}

// Sample is one encrypted inference.
type Sample struct {
	// Outputs are the decrypted output accumulators; Prediction their dequantized arg
	// max. Clean and CleanPrediction are the clear integer circuit's on the same input.
	Outputs         []int64 `json:"outputs"`
	Prediction      int     `json:"prediction"`
	Clean           []int64 `json:"clean_outputs"`
	CleanPrediction int     `json:"clean_prediction"`
	// Layers holds one entry per circuit layer; Time is the whole inference's wall time
	// (encryption and decryption excluded).
	Layers []LayerRun    `json:"layers"`
	Time   time.Duration `json:"-"`
}

// worker holds one goroutine's evaluators, one per partition, sharing the keys.
type worker struct {
	ev, small []*tfhe.Evaluator[uint64]
	ctSmall   []tfhe.LWECiphertext[uint64]
	glwe      []tfhe.GLWECiphertext[uint64]
}

func (k *Keys) newWorker() *worker {
	w := &worker{}
	for _, p := range k.parts {
		w.ev = append(w.ev, tfhe.NewEvaluator(p.tp, p.evk))
		w.small = append(w.small, tfhe.NewEvaluator(p.small, tfhe.EvaluationKey[uint64]{}))
		w.ctSmall = append(w.ctSmall, tfhe.NewLWECiphertextCustom[uint64](p.params.LWEDimension()))
		w.glwe = append(w.glwe, tfhe.NewGLWECiphertext(p.tp))
	}
	return w
}

// delta returns Δ = 2^(63−bits), one step of a bits-bit message with a padding bit.
func delta(bits int) uint64 { return uint64(1) << (63 - bits) }

// Run encrypts one standardized sample x (the circuit's input width), runs the circuit
// on it under encryption with a layer's TLUs spread over cores goroutines (each with its
// own evaluators), decrypts the outputs and compares every TLU output with the clear
// circuit's. It checks ctx between layers.
func (k *Keys) Run(ctx context.Context, x []float64, cores int) (Sample, error) {
	c := k.c
	if len(x) != c.InSize() {
		return Sample{}, fmt.Errorf("%w: sample of %d features, the circuit takes %d", ErrInput, len(x), c.InSize())
	}
	cores = max(1, cores)
	q := c.QuantizeInputs(mat.NewDense(1, len(x), append([]float64(nil), x...)))
	accs, _ := c.TLUOutputs(q)
	workers := make([]*worker, cores)
	for i := range workers {
		workers[i] = k.newWorker()
	}
	// Encrypt the inputs at the first layer's step, under its accumulators' key.
	first := k.sol.Layers[0].InputPartition
	d0 := delta(c.Layers[0].AccumulatorBits)
	in := make([]tfhe.LWECiphertext[uint64], c.InSize())
	enc := k.parts[first].enc
	for j, v := range q.RawRowView(0) {
		in[j] = enc.EncryptLWEPlaintext(tfhe.LWEPlaintext[uint64]{Value: uint64(int64(v)) * d0})
	}
	s := Sample{CleanPrediction: argmax(c.Logits(accs[len(accs)-1]).RawRowView(0))}
	start := time.Now()
	nt := c.TLULayers()
	for i, info := range c.Layers {
		if err := ctx.Err(); err != nil {
			return Sample{}, err
		}
		lp := k.sol.Layers[i]
		// Diagnostics: the messages the layer's inputs hold (decrypted, outside the
		// layer's time), from which the error-free TLU of each accumulator follows.
		msgs := k.messages(lp.InputPartition, in, info.AccumulatorBits)
		t0 := time.Now()
		n := len(accs[i].RawRowView(0))
		next := make([]tfhe.LWECiphertext[uint64], n)
		lr := LayerRun{Name: info.Name, Bootstraps: info.PBSCount()}
		luts, err := k.layerLUTs(workers[0], i, n)
		if err != nil {
			return Sample{}, err
		}
		errs := make([]int, cores)
		var firstErr error
		var mu sync.Mutex
		var wg sync.WaitGroup
		// Each worker takes the next element when it is done with one, so that a core
		// running slower than the others (on a shared machine one core's speed swings
		// by tens of percent within seconds) does less of the layer instead of holding
		// it up with an equal share.
		var cursor atomic.Int64
		for w := range cores {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				for j := int(cursor.Add(1) - 1); j < n; j = int(cursor.Add(1) - 1) {
					var ct tfhe.LWECiphertext[uint64]
					var bad int
					var err error
					if info.Op == "maxpool" {
						ct, bad, err = k.poolElement(workers[w], i, j, in, msgs, luts)
					} else {
						ct, bad, err = k.element(workers[w], i, j, in, msgs, luts)
					}
					if err != nil {
						mu.Lock()
						firstErr = err
						mu.Unlock()
						return
					}
					next[j] = ct
					errs[w] += bad
				}
			}(w)
		}
		wg.Wait()
		if firstErr != nil {
			return Sample{}, firstErr
		}
		for _, e := range errs {
			lr.TLUErrors += e
		}
		lr.Time = time.Since(t0)
		s.Layers = append(s.Layers, lr)
		if i == nt {
			// The output layer: decrypt the accumulators.
			bits := info.AccumulatorBits
			row := mat.NewDense(1, n, nil)
			for j, ct := range next {
				v := k.decrypt(lp.InputPartition, ct, bits)
				s.Outputs = append(s.Outputs, v)
				s.Clean = append(s.Clean, int64(accs[i].At(0, j)))
				row.Set(0, j, float64(v))
			}
			s.Prediction = argmax(c.Logits(row).RawRowView(0))
		}
		in = next
	}
	s.Time = time.Since(start)
	return s, nil
}

// outBits returns the accumulator bits at which TLU layer i writes its outputs: those of
// the layer that sums them.
func (k *Keys) outBits(i int) int { return k.c.Layers[i+1].AccumulatorBits }

// decrypt returns the signed integer of step 2^(63−bits) that ct (under partition p's
// big key) holds.
func (k *Keys) decrypt(p int, ct tfhe.LWECiphertext[uint64], bits int) int64 {
	phase := k.parts[p].enc.DecryptLWEPhase(ct).Value
	d := delta(bits)
	return int64(phase+d/2) >> (63 - bits)
}

// messages decrypts the input ciphertexts of a layer (under partition p's key, at its
// accumulator's step): the integers they hold, errors of earlier TLUs included.
func (k *Keys) messages(p int, in []tfhe.LWECiphertext[uint64], bits int) []int64 {
	out := make([]int64, len(in))
	for j, ct := range in {
		out[j] = k.decrypt(p, ct, bits)
	}
	return out
}

// element computes accumulator j of layer i from the layer's input ciphertexts and, for
// a TLU layer, rounds it and bootstraps it through its table; bad is 1 when the TLU's
// decrypted output differs from the error-free TLU of the accumulator its inputs' messages
// msgs make in the clear (diagnostics), else 0. The clear accumulator, not the decrypted
// one, is the reference: the noise of the dot product is part of the TLU's error.
func (k *Keys) element(w *worker, i, j int, in []tfhe.LWECiphertext[uint64], msgs []int64, luts []tfhe.LookUpTable[uint64]) (ct tfhe.LWECiphertext[uint64], bad int, err error) {
	ct, want, err := k.accumulateAndLookUp(w, i, j, in, msgs, luts)
	if err != nil || k.c.Layers[i].Output {
		return ct, 0, err
	}
	if got := k.decrypt(k.sol.Layers[i].Partition, ct, k.outBits(i)); got != want {
		bad = 1
	}
	return ct, bad, nil
}

// poolElement computes output j of max-pool layer i as the circuit does, after
// Concrete's lowering (Transforms/Max.cpp): the running maximum m starts as a trivial
// encryption of the layer's initial value; for each input x of the window
// ([circuit.Circuit.MaxPoolWindow]), the levelled difference m − x is bootstrapped
// through the layer's table (relu, index m − x + 2^(W−1)) and x is added back:
// m ← relu(m − x) + x. All of it stays under the key of the layer's partition, which is
// its inputs' (the circuit puts a max pool there). bad counts the comparisons whose
// decrypted TLU output differs from the error-free TLU of the difference in the clear
// (the running maximum's message, as the decrypted TLU outputs make it, less the input's
// message msgs[x]).
func (k *Keys) poolElement(w *worker, i, j int, in []tfhe.LWECiphertext[uint64], msgs []int64, luts []tfhe.LookUpTable[uint64]) (m tfhe.LWECiphertext[uint64], bad int, err error) {
	c, info, lp := k.c, k.c.Layers[i], k.sol.Layers[i]
	win, init, err := c.MaxPoolWindow(i, j)
	if err != nil {
		return m, 0, err
	}
	b := lp.InputPartition
	if lp.Partition != b {
		return m, 0, fmt.Errorf("%w: max pool %s bootstraps in partition %d, its inputs are in %d", ErrInput, info.Name, lp.Partition, b)
	}
	ev, tp := w.ev[b], k.parts[b].tp
	dl := delta(info.AccumulatorBits) // the TLU reads all W bits: no rounding
	m = tfhe.NewLWECiphertext(tp)
	m.Value[0] = uint64(init) * dl
	diff, r := tfhe.NewLWECiphertext(tp), tfhe.NewLWECiphertext(tp)
	offset := uint64(c.IndexOffset(i)) * dl
	clear := init // the running maximum's message
	for _, at := range win {
		ev.SubLWEAssign(m, in[at], diff)
		want, err := k.wantTLU(i, j, clear-msgs[at])
		if err != nil {
			return m, 0, err
		}
		diff.Value[0] += offset
		ev.BootstrapLUTAssign(diff, luts[j], r)
		got := k.decrypt(b, r, k.outBits(i))
		if got != want {
			bad++
		}
		clear = got + msgs[at]
		ev.AddLWEAssign(r, in[at], m)
	}
	return m, bad, nil
}

// accumulateAndLookUp is element without the error count: want is the error-free TLU
// output of the accumulator that the inputs' messages msgs make in the clear.
func (k *Keys) accumulateAndLookUp(w *worker, i, j int, in []tfhe.LWECiphertext[uint64], msgs []int64, luts []tfhe.LookUpTable[uint64]) (ct tfhe.LWECiphertext[uint64], want int64, err error) {
	c, info, lp := k.c, k.c.Layers[i], k.sol.Layers[i]
	b := lp.InputPartition
	ev := w.ev[b]
	dl := delta(info.AccumulatorBits)
	acc := tfhe.NewLWECiphertext(k.parts[b].tp)
	var clear int64
	constant, err := c.Terms(i, j, func(input int, weight int64) {
		ev.ScalarMulAddLWEAssign(in[input], uint64(weight), acc)
		clear += weight * msgs[input]
	})
	if err != nil {
		return acc, 0, err
	}
	acc.Value[0] += uint64(constant) * dl
	if info.Output {
		return acc, 0, nil
	}
	t, p := info.LSBsRemoved, info.TLUBits
	if want, err = k.wantTLU(i, j, clear+constant); err != nil {
		return acc, 0, err
	}
	switch {
	case t > 0 && info.Rounding == "exact":
		k.roundExact(w, b, acc, info.AccumulatorBits, t)
	case t > 0:
		// Concrete's approximate rounding centres the cell: half an accumulator step,
		// slightly less (symetrize_deltas).
		acc.Value[0] += dl/2 - 2
	}
	dp := delta(p)
	acc.Value[0] += uint64(c.IndexOffset(i)) * dp
	d := lp.Partition
	lut := luts[j]
	out := tfhe.NewLWECiphertext(k.parts[d].tp)
	if b == d {
		w.ev[d].BootstrapLUTAssign(acc, lut, out)
		return out, want, nil
	}
	ksk, ok := k.between[fhe.Switch{From: b, To: d}]
	if !ok {
		return out, 0, fmt.Errorf("%w: no keyswitching key %d → %d", ErrInput, b, d)
	}
	w.small[d].KeySwitchLWEAssign(acc, ksk, w.ctSmall[d])
	w.ev[d].BlindRotateAssign(w.ctSmall[d], lut, w.glwe[d])
	w.glwe[d].ToLWECiphertextAssign(0, out)
	return out, want, nil
}

// wantTLU returns what the error-free TLU j of layer i outputs for accumulator v: exact
// rounding (half up), the signed offset, the index modulo 2^(P+1) and the table with its
// negacyclic half.
func (k *Keys) wantTLU(i, j int, v int64) (int64, error) {
	info := k.c.Layers[i]
	table, err := k.c.TLUTable(i, j)
	if err != nil {
		return 0, err
	}
	r := circuit.RoundLSBs(v, info.LSBsRemoved) >> info.LSBsRemoved
	u := (r + k.c.IndexOffset(i)) & (int64(1)<<(info.TLUBits+1) - 1)
	if n := int64(len(table)); u >= n {
		return -table[u-n], nil
	}
	return table[u], nil
}

// roundExact removes the t least significant bits of the L-bit accumulator acc (under
// partition b's key) in place, as Concrete lowers an exact round: add 2^(t−1)·Δ, then
// for each bit i from the lowest, bootstrap acc·2^(L−i) (bit i on the padding bit)
// through the constant table −2^(62−L+i), add 2^(62−L+i) (giving bit i's value
// 2^(63−L+i) or 0) and subtract it. tfhe-go's tables are centred on their cells, so the
// quarter-torus rotation Concrete adds before the bootstrap is already in the table.
func (k *Keys) roundExact(w *worker, b int, acc tfhe.LWECiphertext[uint64], l, t int) {
	ev := w.ev[b]
	acc.Value[0] += uint64(1) << (t - 1) * delta(l)
	shifted := tfhe.NewLWECiphertext(k.parts[b].tp)
	bit := tfhe.NewLWECiphertext(k.parts[b].tp)
	for i := range t {
		ev.ScalarMulLWEAssign(acc, uint64(1)<<(l-i), shifted)
		half := uint64(1) << (62 - l + i)
		lut := k.extractionLUT(w, b, l, i)
		ev.BootstrapLUTAssign(shifted, lut, bit)
		bit.Value[0] += half
		ev.SubLWEAssign(acc, bit, acc)
	}
}

// layerLUTs returns the lookup table of every TLU of layer i (nil for the output layer),
// built once per distinct table with w's evaluator of the layer's partition.
func (k *Keys) layerLUTs(w *worker, i, n int) ([]tfhe.LookUpTable[uint64], error) {
	c := k.c
	if i >= c.TLULayers() {
		return nil, nil
	}
	d, p := k.sol.Layers[i].Partition, c.Layers[i].TLUBits
	dout := delta(k.outBits(i))
	out := make([]tfhe.LookUpTable[uint64], n)
	built := map[string]tfhe.LookUpTable[uint64]{}
	for j := range out {
		table, err := c.TLUTable(i, j)
		if err != nil {
			return nil, err
		}
		key := fmt.Sprint(table)
		lut, ok := built[key]
		if !ok {
			lut = w.ev[d].GenLookUpTableCustomFull(func(u int) uint64 { return uint64(table[u]) * dout }, uint64(1)<<p)
			built[key] = lut
		}
		out[j] = lut
	}
	return out, nil
}

// extractionLUT returns the constant table of bit extraction i of an L-bit accumulator
// in partition b, −2^(62−L+i), made once and shared (tables are only read).
func (k *Keys) extractionLUT(w *worker, b, l, i int) tfhe.LookUpTable[uint64] {
	key := [3]int{b, l, i}
	k.mu.Lock()
	defer k.mu.Unlock()
	if lut, ok := k.extract[key]; ok {
		return lut
	}
	half := uint64(1) << (62 - l + i)
	lut := w.ev[b].GenLookUpTableCustomFull(func(int) uint64 { return -half }, 1)
	if k.extract == nil {
		k.extract = map[[3]int]tfhe.LookUpTable[uint64]{}
	}
	k.extract[key] = lut
	return lut
}

func argmax(v []float64) int {
	best, bi := math.Inf(-1), 0
	for i, x := range v {
		if x > best {
			best, bi = x, i
		}
	}
	return bi
}
