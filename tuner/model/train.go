package model

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/fhetune/fhetune/fhe/circuit"
)

// Data is a labelled set of raw samples: X has one row per sample, Y one class per row.
type Data struct {
	X *mat.Dense
	Y []int
}

// Len returns the number of samples.
func (d Data) Len() int {
	if d.X == nil {
		return 0
	}
	r, _ := d.X.Dims()
	return r
}

// TrainConfig sets how [Train] runs. Zero fields take the documented defaults.
type TrainConfig struct {
	// Epochs is the maximum number of passes over the training data (default 100).
	Epochs int
	// BatchSize is the number of samples per Adam step (default 32).
	BatchSize int
	// LearningRate is Adam's step size α (default 1e-3).
	LearningRate float64
	// Beta1 and Beta2 are Adam's moment decay rates (defaults 0.9 and 0.999).
	Beta1, Beta2 float64
	// Epsilon is Adam's denominator offset (default 1e-8).
	Epsilon float64
	// WeightDecay adds λ·w to each weight's gradient (L2 regularization; default 0).
	WeightDecay float64
	// Patience stops training after this many epochs without a better validation score,
	// then restores the best weights (default 20; negative disables early stopping).
	// Without validation data the run takes all Epochs.
	Patience int
	// Seed drives the shuffling of the training data (default 0 is a valid seed).
	Seed uint64
	// OnEpoch, when not nil, is called after each epoch (for progress reports).
	OnEpoch func(EpochStats)
	// AfterEpoch, when not nil, is called after each epoch (after OnEpoch, before early
	// stopping is decided) and may stop the run: when it returns an error, [Train]
	// returns that error wrapped, with the network holding the best weights so far. A
	// study's pruner uses it to stop trainings that cannot win.
	AfterEpoch func(EpochStats) error
}

func (c TrainConfig) withDefaults() TrainConfig {
	if c.Epochs == 0 {
		c.Epochs = 100
	}
	if c.BatchSize == 0 {
		c.BatchSize = 32
	}
	if c.LearningRate == 0 {
		c.LearningRate = 1e-3
	}
	if c.Beta1 == 0 {
		c.Beta1 = 0.9
	}
	if c.Beta2 == 0 {
		c.Beta2 = 0.999
	}
	if c.Epsilon == 0 {
		c.Epsilon = 1e-8
	}
	if c.Patience == 0 {
		c.Patience = 20
	}
	return c
}

func (c TrainConfig) check() error {
	switch {
	case c.Epochs < 0:
		return fmt.Errorf("model: train: epochs %d must be ≥ 0", c.Epochs)
	case c.BatchSize < 0:
		return fmt.Errorf("model: train: batch size %d must be ≥ 0", c.BatchSize)
	case !(c.LearningRate >= 0) || math.IsInf(c.LearningRate, 0):
		return fmt.Errorf("model: train: learning rate %v must be finite and ≥ 0", c.LearningRate)
	case !(c.Beta1 >= 0 && c.Beta1 < 1) || !(c.Beta2 >= 0 && c.Beta2 < 1):
		return fmt.Errorf("model: train: Adam betas %v, %v must be in [0, 1)", c.Beta1, c.Beta2)
	case !(c.Epsilon >= 0) || math.IsInf(c.Epsilon, 0):
		return fmt.Errorf("model: train: epsilon %v must be finite and ≥ 0", c.Epsilon)
	case !(c.WeightDecay >= 0) || math.IsInf(c.WeightDecay, 0):
		return fmt.Errorf("model: train: weight decay %v must be finite and ≥ 0", c.WeightDecay)
	}
	return nil
}

// EpochStats describes one finished epoch.
type EpochStats struct {
	Epoch       int     // 1-based
	TrainLoss   float64 // mean cross-entropy over the epoch's mini-batches
	ValLoss     float64 // mean cross-entropy on the validation data (NaN without)
	ValAccuracy float64 // accuracy on the validation data (NaN without)
	Best        bool    // whether this epoch's weights are the best so far
}

// TrainResult summarizes a [Train] run.
type TrainResult struct {
	EpochsRun   int     // epochs actually run (early stopping may end before Epochs)
	BestEpoch   int     // the epoch whose weights the network holds (1-based; 0 when none ran)
	TrainLoss   float64 // mean training loss of the last epoch run
	ValLoss     float64 // validation loss of the best epoch (NaN without validation data)
	ValAccuracy float64 // validation accuracy of the best epoch (NaN without validation data)
	Stopped     bool    // whether early stopping ended the run
}

// Train fits the network's weights to train by mini-batch Adam on the softmax
// cross-entropy loss, in place. Inputs are raw: the network's Standardizer is applied
// first. Masked weights stay zero.
//
// With validation data (val.Len() > 0), each epoch ends with a validation pass; the best
// epoch is the one with the highest validation accuracy, ties broken by the lower
// validation loss, and the network ends with the best epoch's weights. Training stops
// early after cfg.Patience epochs without a better one.
//
// The run is deterministic for a given network, data and cfg.Seed. It checks ctx between
// mini-batches and returns ctx's error (with the network holding the best weights so far)
// when it is cancelled.
func Train(ctx context.Context, net *Network, train, val Data, cfg TrainConfig) (TrainResult, error) {
	res := TrainResult{ValLoss: math.NaN(), ValAccuracy: math.NaN()}
	if err := cfg.check(); err != nil {
		return res, err
	}
	cfg = cfg.withDefaults()
	if err := net.Validate(); err != nil {
		return res, fmt.Errorf("model: train: %w", err)
	}
	if err := net.checkData(train, "training data"); err != nil {
		return res, err
	}
	hasVal := val.Len() > 0
	if hasVal {
		if err := net.checkData(val, "validation data"); err != nil {
			return res, err
		}
	}
	compact(net)
	var xv *mat.Dense
	if hasVal {
		xv = net.Standardize(val.X)
	}

	t := newTrainer(net, cfg)
	n := train.Len()
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x7f4a7c159e3779b9))
	best := net.Clone()
	bestAcc, bestLoss := math.Inf(-1), math.Inf(1)
	sinceBest := 0
	for epoch := 1; epoch <= cfg.Epochs; epoch++ {
		rng.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
		sum, batches := 0.0, 0
		for b0 := 0; b0 < n; b0 += cfg.BatchSize {
			if err := ctx.Err(); err != nil {
				restore(net, best)
				return res, fmt.Errorf("model: train: epoch %d: %w", epoch, err)
			}
			idx := order[b0:min(b0+cfg.BatchSize, n)]
			sum += t.step(train.X, train.Y, idx)
			batches++
		}
		st := EpochStats{Epoch: epoch, TrainLoss: sum / float64(batches), ValLoss: math.NaN(), ValAccuracy: math.NaN()}
		res.EpochsRun, res.TrainLoss = epoch, st.TrainLoss
		if hasVal {
			st.ValLoss, st.ValAccuracy = evaluate(net, xv, val.Y)
			if st.ValAccuracy > bestAcc || (st.ValAccuracy == bestAcc && st.ValLoss < bestLoss) {
				bestAcc, bestLoss = st.ValAccuracy, st.ValLoss
				st.Best = true
			}
		} else {
			st.Best = true
		}
		if st.Best {
			copyWeights(best, net)
			res.BestEpoch, sinceBest = epoch, 0
			res.ValLoss, res.ValAccuracy = st.ValLoss, st.ValAccuracy
		} else {
			sinceBest++
		}
		if cfg.OnEpoch != nil {
			cfg.OnEpoch(st)
		}
		if cfg.AfterEpoch != nil {
			if err := cfg.AfterEpoch(st); err != nil {
				restore(net, best)
				return res, fmt.Errorf("model: train: stopped after epoch %d: %w", epoch, err)
			}
		}
		if hasVal && cfg.Patience > 0 && sinceBest >= cfg.Patience {
			res.Stopped = true
			break
		}
	}
	restore(net, best)
	return res, nil
}

// Loss returns the mean softmax cross-entropy and the accuracy of the network on raw
// data d.
func (n *Network) Loss(d Data) (loss, acc float64, err error) {
	if err := n.checkData(d, "data"); err != nil {
		return 0, 0, err
	}
	loss, acc = evaluate(n, n.Standardize(d.X), d.Y)
	return loss, acc, nil
}

// evaluate returns the mean cross-entropy and accuracy on standardized inputs.
func evaluate(net *Network, x *mat.Dense, y []int) (loss, acc float64) {
	logits := net.forward(x, false)
	r, _ := logits.Dims()
	for i := 0; i < r; i++ {
		loss += crossEntropy(logits.RawRowView(i), y[i], nil)
	}
	return loss / float64(r), accuracy(argmaxRows(logits), y)
}

// crossEntropy returns −log softmax(z)[y] and, when grad is not nil, writes
// softmax(z) − onehot(y) into it.
func crossEntropy(z []float64, y int, grad []float64) float64 {
	m := z[0]
	for _, v := range z[1:] {
		m = max(m, v)
	}
	sum := 0.0
	for _, v := range z {
		sum += math.Exp(v - m)
	}
	logSum := m + math.Log(sum)
	if grad != nil {
		for j, v := range z {
			grad[j] = math.Exp(v - logSum)
		}
		grad[y]--
	}
	return logSum - z[y]
}

// trainer holds the per-layer training state and Adam's moments.
type trainer struct {
	net    *Network
	cfg    TrainConfig
	states []layerState
	params []param
	m, v   [][]float64
	t      int
	xb, dz *mat.Dense
}

func newTrainer(net *Network, cfg TrainConfig) *trainer {
	t := &trainer{net: net, cfg: cfg}
	for _, l := range net.Layers {
		s := l.newState()
		t.states = append(t.states, s)
		t.params = append(t.params, s.params()...)
	}
	for _, p := range t.params {
		t.m = append(t.m, make([]float64, len(p.val)))
		t.v = append(t.v, make([]float64, len(p.val)))
	}
	return t
}

// step gathers the raw samples idx of x, standardizes them, runs forward and backward
// and takes one Adam step. It returns the mean loss of the batch. Standardizing batch by
// batch spares a standardized copy of the whole training set.
func (t *trainer) step(x *mat.Dense, y []int, idx []int) float64 {
	_, c := x.Dims()
	b := len(idx)
	t.xb = reuse(t.xb, b, c)
	for i, k := range idx {
		copy(t.xb.RawRowView(i), x.RawRowView(k))
	}
	if s := t.net.Standardizer; s != nil {
		s.applyTo(t.xb, t.xb)
	}
	loss := t.lossGrad(t.xb, func(i int) int { return y[idx[i]] })
	t.adam()
	return loss
}

// lossGrad runs a forward and a backward pass on the batch xb with labels label(i) and
// leaves the parameter gradients of the mean cross-entropy in the layer states.
func (t *trainer) lossGrad(xb *mat.Dense, label func(int) int) float64 {
	h := xb
	var in *circuit.Quantizer
	for i, s := range t.states {
		if r, ok := s.(quantReader); ok {
			r.setInput(in)
		}
		h = s.forward(h)
		in = passQuant(t.net.Layers[i], in)
	}
	b, k := h.Dims()
	t.dz = reuse(t.dz, b, k)
	loss := 0.0
	inv := 1 / float64(b)
	for i := 0; i < b; i++ {
		g := t.dz.RawRowView(i)
		loss += crossEntropy(h.RawRowView(i), label(i), g)
		for j := range g {
			g[j] *= inv
		}
	}
	g := t.dz
	for i := len(t.states) - 1; i >= 0; i-- {
		g = t.states[i].backward(g, i > 0)
	}
	return loss * inv
}

// adam applies one Adam update to every parameter, keeping masked weights at zero.
func (t *trainer) adam() {
	c := t.cfg
	t.t++
	bc1 := 1 - math.Pow(c.Beta1, float64(t.t))
	bc2 := 1 - math.Pow(c.Beta2, float64(t.t))
	step := c.LearningRate / bc1
	for pi, p := range t.params {
		m, v := t.m[pi], t.v[pi]
		decay := 0.0
		if p.weight {
			decay = c.WeightDecay
		}
		for i, g := range p.grad {
			if p.mask != nil && !p.mask[i] {
				p.val[i] = 0
				continue
			}
			g += decay * p.val[i]
			m[i] = c.Beta1*m[i] + (1-c.Beta1)*g
			v[i] = c.Beta2*v[i] + (1-c.Beta2)*g*g
			p.val[i] -= step * m[i] / (math.Sqrt(v[i]/bc2) + c.Epsilon)
		}
	}
}

// compact makes every weight matrix contiguous (stride == columns) so the optimizer can
// update it as one slice.
func compact(net *Network) {
	for _, l := range net.Layers {
		switch l := l.(type) {
		case *Linear:
			if raw := l.W.RawMatrix(); raw.Stride != raw.Cols {
				l.W = mat.DenseCopyOf(l.W)
			}
		case *Conv2d:
			if raw := l.W.RawMatrix(); raw.Stride != raw.Cols {
				l.W = mat.DenseCopyOf(l.W)
			}
		}
	}
}

// copyWeights copies the parameters of src into dst (same architecture).
func copyWeights(dst, src *Network) {
	for i, l := range src.Layers {
		switch s := l.(type) {
		case *Linear:
			d := dst.Layers[i].(*Linear)
			d.W.Copy(s.W)
			copy(d.B, s.B)
		case *Conv2d:
			d := dst.Layers[i].(*Conv2d)
			d.W.Copy(s.W)
			copy(d.B, s.B)
		case *Quant:
			d := dst.Layers[i].(*Quant)
			d.Lo, d.Hi = s.Lo, s.Hi
		}
	}
}

func restore(net, best *Network) { copyWeights(net, best) }

// quantReader is the training state of a layer that computes in integers when its input
// is quantized: it is told the input's quantizer before each forward pass.
type quantReader interface {
	setInput(in *circuit.Quantizer)
}
