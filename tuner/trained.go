package tuner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"gonum.org/v1/gonum/mat"

	"github.com/fhetune/fhetune/tuner/model"
)

// DefaultQATEpochs is the number of quantization-aware training epochs when the
// qat_epochs knob is not set: on the digits MLP, 5 epochs reach what 10 and 20 reach
// at 2 and 3 bits within a point, at half the cost of a trial.
const DefaultQATEpochs = 5

// Training methods, the values of the training knob.
const (
	// TrainingPTQ quantizes the trained float network after training (post-training
	// quantization, Concrete ML's compile_torch_model).
	TrainingPTQ = "ptq"
	// TrainingQAT trains the network with fake quantization in the forward pass
	// (quantization-aware training, Concrete ML's built-in networks and
	// compile_brevitas_qat_model), starting from the float network.
	TrainingQAT = "qat"
)

// Artifacts keeps trained networks beyond one process: a study's artifacts, so that
// trials that differ only in post-training knobs, resumed studies and other processes
// reuse a quantization-aware training instead of running it again.
type Artifacts interface {
	// Load returns the bytes stored under name and whether there are any.
	Load(ctx context.Context, name string) ([]byte, bool, error)
	// Store keeps data under name.
	Store(ctx context.Context, name string, data []byte) error
}

// qat reports whether the knobs ask for quantization-aware training.
func (k Knobs) qat() bool { return strings.EqualFold(k.Training, TrainingQAT) }

// floatKnobs returns the knobs that make the float network a trial starts from: its
// pruning alone.
func (k Knobs) floatKnobs() Knobs { return Knobs{Pruning: k.Pruning, Sparsity: k.Sparsity} }

// qatEpochs returns qat_epochs, or DefaultQATEpochs when it is not set.
func (k Knobs) qatEpochs() int {
	if k.QATEpochs == 0 {
		return DefaultQATEpochs
	}
	return k.QATEpochs
}

// qatConfig returns the quantization-aware training setup of the knobs.
func (k Knobs) qatConfig() model.QATConfig {
	return model.QATConfig{NWBits: k.NWBits, NABits: k.NABits, NInputBits: k.NInputBits,
		PowerOfTwo: k.PowerOfTwoScaling, AccumBits: k.NAccumBits}
}

// netCacheSize bounds the trained networks an Env keeps.
const netCacheSize = 16

// netKey identifies a trained network: a base network pruned and fine-tuned, and
// trained quantization-aware when qat is not zero.
type netKey struct {
	base              *model.Network
	train             *mat.Dense
	pruning, sparsity float64
	epochs            int
	seed              uint64
	qat               qatKey
}

// qatKey holds the training knobs of a quantization-aware training (zero: none).
type qatKey struct {
	cfg    model.QATConfig
	epochs int
}

type netEntry struct {
	done chan struct{}
	net  *model.Network
	err  error
}

// netCache memoizes trained networks; concurrent requests for one key wait for the
// first. It is safe for concurrent use (the zero value is ready).
type netCache struct {
	mu      sync.Mutex // protects the fields below
	entries map[netKey]*netEntry
	order   []netKey
}

// get returns the network the training knobs of k make from t's base network: the base
// itself, or it pruned and fine-tuned, and then trained quantization-aware when k says
// qat.
func (nc *netCache) get(ctx context.Context, t Task, k Knobs) (*model.Network, error) {
	if k.Pruning == 0 && k.Sparsity == 0 && !k.qat() {
		return t.Base, nil
	}
	epochs := t.FineTuneEpochs
	if epochs == 0 {
		epochs = DefaultFineTuneEpochs
	}
	key := netKey{t.Base, t.Train.X, k.Pruning, k.Sparsity, epochs, t.Seed, qatKey{}}
	if k.qat() {
		key.qat = qatKey{k.qatConfig(), k.qatEpochs()}
	}
	for {
		nc.mu.Lock()
		if nc.entries == nil {
			nc.entries = map[netKey]*netEntry{}
		}
		if e, ok := nc.entries[key]; ok {
			nc.mu.Unlock()
			select {
			case <-e.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			// Another caller's cancellation is not ours: try again.
			if isContextErr(e.err) && ctx.Err() == nil {
				continue
			}
			return e.net, e.err
		}
		e := &netEntry{done: make(chan struct{})}
		nc.entries[key] = e
		nc.order = append(nc.order, key)
		if len(nc.order) > netCacheSize {
			delete(nc.entries, nc.order[0])
			nc.order = nc.order[1:]
		}
		nc.mu.Unlock()

		if k.qat() {
			e.net, e.err = nc.trainQAT(ctx, t, k, key)
		} else {
			e.net, e.err = prune(ctx, t, k.Pruning, k.Sparsity, epochs)
		}
		if e.err != nil { // keep no failure: a cancelled context must not stick
			nc.mu.Lock()
			if nc.entries[key] == e {
				delete(nc.entries, key)
			}
			nc.mu.Unlock()
		}
		close(e.done)
		return e.net, e.err
	}
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// prune applies structured then unstructured pruning and fine-tunes the result.
func prune(ctx context.Context, t Task, pruning, sparsity float64, epochs int) (*model.Network, error) {
	net := t.Base
	var err error
	if pruning > 0 {
		if net, err = model.PruneStructured(net, pruning, PruneNorm); err != nil {
			return nil, fmt.Errorf("%w: pruning %v: %w", ErrKnobs, pruning, err)
		}
	}
	if sparsity > 0 {
		if net, err = model.PruneUnstructured(net, sparsity); err != nil {
			return nil, fmt.Errorf("%w: sparsity %v: %w", ErrKnobs, sparsity, err)
		}
	}
	if epochs > 0 && t.Train.Len() > 0 {
		cfg := model.TrainConfig{Epochs: epochs, Patience: -1, Seed: t.Seed}
		if _, err := model.Train(ctx, net, t.Train, t.Val, cfg); err != nil {
			return nil, fmt.Errorf("tuner: fine-tune pruned network: %w", err)
		}
	}
	return net, nil
}

// trainQAT returns the quantization-aware network of k: the task's stored artifact
// when there is one, else the float network of k's pruning set up for it
// ([model.PrepareQAT], quantizer ranges from the calibration split) and trained for
// qat_epochs on the training split (the best validation epoch kept), then stored.
// Task.OnQATEpoch watches the training; when it stops it, nothing is stored and get
// drops the cache entry with the error, so a pruned network is never reused.
func (nc *netCache) trainQAT(ctx context.Context, t Task, k Knobs, key netKey) (*model.Network, error) {
	name := qatArtifactName(key)
	if t.Artifacts != nil {
		b, ok, err := t.Artifacts.Load(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("tuner: load %s: %w", name, err)
		}
		if ok {
			net := new(model.Network)
			if err := net.UnmarshalBinary(b); err != nil {
				return nil, fmt.Errorf("tuner: stored %s: %w", name, err)
			}
			return net, nil
		}
	}
	fnet, err := nc.get(ctx, t, k.floatKnobs())
	if err != nil {
		return nil, err
	}
	net, err := model.PrepareQAT(fnet, t.Calib.X, key.qat.cfg)
	if err != nil {
		if errors.Is(err, model.ErrPrune) || errors.Is(err, model.ErrQAT) {
			return nil, fmt.Errorf("%w: %w", ErrKnobs, err)
		}
		return nil, fmt.Errorf("tuner: %w", err)
	}
	cfg := model.TrainConfig{Epochs: key.qat.epochs, Patience: -1, Seed: t.Seed}
	if t.OnQATEpoch != nil && t.Val.Len() > 0 {
		_, acc, err := net.Loss(t.Val)
		if err != nil {
			return nil, fmt.Errorf("%w: validation data: %w", ErrTask, err)
		}
		if err := t.OnQATEpoch(0, acc); err != nil {
			return nil, fmt.Errorf("tuner: quantization-aware training: %w", err)
		}
		cfg.AfterEpoch = func(s model.EpochStats) error { return t.OnQATEpoch(s.Epoch, s.ValAccuracy) }
	}
	if _, err := model.Train(ctx, net, t.Train, t.Val, cfg); err != nil {
		return nil, fmt.Errorf("tuner: quantization-aware training: %w", err)
	}
	if t.Artifacts != nil {
		b, err := net.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("tuner: encode %s: %w", name, err)
		}
		if err := t.Artifacts.Store(ctx, name, b); err != nil {
			return nil, fmt.Errorf("tuner: store %s: %w", name, err)
		}
	}
	return net, nil
}

// qatArtifactName names the study artifact of a quantization-aware network by its
// training knobs and seed.
func qatArtifactName(k netKey) string {
	c := k.qat.cfg
	return fmt.Sprintf("qat n_w_bits=%d n_a_bits=%d n_input_bits=%d power_of_two_scaling=%t n_accum_bits=%d qat_epochs=%d pruning=%g sparsity=%g fine_tune_epochs=%d seed=%d",
		c.NWBits, c.NABits, c.NInputBits, c.PowerOfTwo, c.AccumBits, k.qat.epochs, k.pruning, k.sparsity, k.epochs, k.seed)
}

// checkTraining returns an error wrapping ErrKnobs naming a training knob out of range.
func (k Knobs) checkTraining() error {
	switch strings.ToLower(k.Training) {
	case "", TrainingPTQ, TrainingQAT:
	default:
		return fmt.Errorf("%w: training %q: want ptq or qat", ErrKnobs, k.Training)
	}
	switch {
	case k.QATEpochs < 0:
		return fmt.Errorf("%w: qat_epochs %d below 1", ErrKnobs, k.QATEpochs)
	case k.NAccumBits != 0 && (k.NAccumBits < 2 || k.NAccumBits > 62):
		return fmt.Errorf("%w: n_accum_bits %d outside 2..62", ErrKnobs, k.NAccumBits)
	case k.qat():
		return nil
	case k.QATEpochs != 0:
		return fmt.Errorf("%w: qat_epochs needs training qat", ErrKnobs)
	case k.NAccumBits != 0:
		return fmt.Errorf("%w: n_accum_bits needs training qat (accumulators are pruned during quantization-aware training)", ErrKnobs)
	case k.PowerOfTwoScaling:
		return fmt.Errorf("%w: power_of_two_scaling needs training qat", ErrKnobs)
	}
	return nil
}
