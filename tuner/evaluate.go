package tuner

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/fhetune/fhetune/fhe"
	"github.com/fhetune/fhetune/fhe/calibration"
	"github.com/fhetune/fhetune/fhe/circuit"
	"github.com/fhetune/fhetune/tuner/dataset"
	"github.com/fhetune/fhetune/tuner/model"
	"gonum.org/v1/gonum/mat"
)

// DefaultFineTuneEpochs is the number of epochs a pruned network is fine-tuned for when
// Task.FineTuneEpochs is zero: a few passes recover most of what pruning loses and keep
// a trial cheap.
const DefaultFineTuneEpochs = 3

// PruneNorm is the norm that ranks neurons and channels for structured pruning.
const PruneNorm = model.L2

// Knobs is one setting of the knobs of a trial, with Concrete ML's names.
type Knobs struct {
	// NWBits, NABits and NInputBits are n_w_bits, n_a_bits and n_input_bits (0: n_a_bits).
	NWBits     int `json:"n_w_bits"`
	NABits     int `json:"n_a_bits"`
	NInputBits int `json:"n_input_bits,omitempty"`
	// Pruning is the share of hidden neurons and channels removed (structured), in [0, 1).
	Pruning float64 `json:"pruning"`
	// Sparsity is the share of each layer's weights pinned at zero (unstructured), in [0, 1).
	Sparsity float64 `json:"sparsity"`
	// RoundingThresholdBits is rounding_threshold_bits (2..8, Concrete ML's range); 0
	// means no rounding.
	RoundingThresholdBits int `json:"rounding_threshold_bits,omitempty"`
	// RoundingMethod is rounding_threshold_bits' method: "exact" (the default, one
	// bit-extraction bootstrap per removed bit) or "approximate".
	RoundingMethod string `json:"rounding_method,omitempty"`
	// PError is p_error per TLU and GlobalPError global_p_error for one inference; set at
	// most one. With neither, Concrete ML's default p_error 2^−40 applies.
	PError       float64 `json:"p_error,omitempty"`
	GlobalPError float64 `json:"global_p_error,omitempty"`
	// Cores is the number of cores of the latency estimate; 0 means the Env's default.
	Cores int `json:"cores,omitempty"`
	// Strategy is "multi" (one crypto set per TLU layer, the default) or "mono".
	Strategy string `json:"strategy,omitempty"`
	// Security is the security level in bits; 0 means 128.
	Security int `json:"security,omitempty"`
	// Training is "ptq" (post-training quantization, the default) or "qat"
	// (quantization-aware training from the pruned float network).
	Training string `json:"training,omitempty"`
	// QATEpochs is qat_epochs, the epochs of quantization-aware training; 0 means
	// DefaultQATEpochs.
	QATEpochs int `json:"qat_epochs,omitempty"`
	// NAccumBits is n_accum_bits: with qat, every accumulator is pruned to fit this many
	// bits (model.AccumulatorPrune); 0 means no bound.
	NAccumBits int `json:"n_accum_bits,omitempty"`
	// PowerOfTwoScaling is power_of_two_scaling: with qat, power-of-two quantizer
	// scales, so that the compiler rounds accumulators before ReLUs for free accuracy.
	PowerOfTwoScaling bool `json:"power_of_two_scaling,omitempty"`
}

// strategy parses the Strategy knob.
func (k Knobs) strategy() (fhe.Strategy, error) {
	switch strings.ToLower(k.Strategy) {
	case "", "multi":
		return fhe.MultiParameter, nil
	case "mono":
		return fhe.MonoParameter, nil
	}
	return 0, fmt.Errorf("%w: strategy %q: want multi or mono", ErrKnobs, k.Strategy)
}

func (k Knobs) compileConfig() (circuit.Config, error) {
	m, err := circuit.ParseRoundingMethod(k.RoundingMethod)
	return circuit.Config{NWBits: k.NWBits, NABits: k.NABits, NInputBits: k.NInputBits,
		RoundingThresholdBits: k.RoundingThresholdBits, RoundingMethod: m}, err
}

func (k Knobs) paramsConfig() (circuit.ParamsConfig, error) {
	s, err := k.strategy()
	return circuit.ParamsConfig{PError: k.PError, GlobalPError: k.GlobalPError, Strategy: s, Security: k.Security}, err
}

// Check returns an error wrapping ErrKnobs that names the first knob out of range.
func (k Knobs) Check() error {
	cc, err := k.compileConfig()
	if err == nil {
		err = cc.Check()
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrKnobs, err)
	}
	if !(k.Pruning >= 0 && k.Pruning < 1) {
		return fmt.Errorf("%w: pruning %v outside [0, 1)", ErrKnobs, k.Pruning)
	}
	if !(k.Sparsity >= 0 && k.Sparsity < 1) {
		return fmt.Errorf("%w: sparsity %v outside [0, 1)", ErrKnobs, k.Sparsity)
	}
	if k.Cores < 0 {
		return fmt.Errorf("%w: cores %d below 0", ErrKnobs, k.Cores)
	}
	if err := k.checkTraining(); err != nil {
		return err
	}
	pc, err := k.paramsConfig()
	if err != nil {
		return err
	}
	if err := pc.Check(); err != nil {
		return fmt.Errorf("%w: %w", ErrKnobs, err)
	}
	return nil
}

// Task is what every trial of one study evaluates: the trained base network and the
// data splits, raw (the network standardizes them).
type Task struct {
	// Base is the trained float network; Evaluate never modifies it.
	Base *model.Network
	// Train and Val fine-tune pruned networks; Calib fixes the quantization ranges; Test
	// measures the accuracies.
	Train, Val, Calib, Test model.Data
	// FineTuneEpochs is the number of epochs a pruned network is trained for: 0 means
	// DefaultFineTuneEpochs, a negative value none.
	FineTuneEpochs int
	// Artifacts, when not nil, keeps quantization-aware networks (a study's artifacts).
	Artifacts Artifacts
	// OnQATEpoch, when not nil, watches each quantization-aware training the evaluation
	// runs (not a network it finds trained in the cache or the artifacts), when Val has
	// samples: it is called with epoch 0 and the validation accuracy of the network set
	// up for training, then after each epoch with that epoch's validation accuracy. An
	// error it returns stops the training, which is then neither cached nor stored, and
	// Evaluate returns it wrapped. A study's pruner sets it per trial (QATEpochFunc).
	OnQATEpoch func(epoch int, valAccuracy float64) error
	// Seed drives fine-tuning and the error injection.
	Seed uint64
}

func (t Task) check() error {
	if t.Base == nil {
		return fmt.Errorf("%w: no base model", ErrTask)
	}
	for _, d := range []struct {
		name string
		data model.Data
	}{{"calibration", t.Calib}, {"test", t.Test}} {
		if d.data.X == nil || d.data.Len() == 0 {
			return fmt.Errorf("%w: no %s samples", ErrTask, d.name)
		}
		if _, c := d.data.X.Dims(); c != t.Base.InSize() {
			return fmt.Errorf("%w: %s samples have %d features, the model takes %d", ErrTask, d.name, c, t.Base.InSize())
		}
	}
	return nil
}

// LayerResult describes one circuit layer of an evaluated trial.
type LayerResult struct {
	// Name names the layer ("fc1", "conv2"); the last one is the output layer, whose
	// accumulators are decrypted without a TLU.
	Name     string `json:"name"`
	TLUCount int    `json:"tlu_count"`
	// PBSCount counts its bootstraps per sample: the TLUs and, with exact rounding, one
	// bit extraction per removed bit of each.
	PBSCount int `json:"pbs_count"`
	// Op is the levelled operation ("dense", "conv", "pool").
	Op string `json:"op"`
	// AccumulatorBits is the accumulator bit-width over the calibration data, TLUBits the
	// TLU precision after rounding (0 for the output layer), LSBsRemoved the bits rounded
	// off, Rounding the rounding method ("exact", "approximate" or "" without rounding),
	// and Log2Norm2 log2 of the weight 2-norm that feeds each accumulator.
	AccumulatorBits int     `json:"accumulator_bits"`
	TLUBits         int     `json:"tlu_bits"`
	LSBsRemoved     int     `json:"lsbs_removed"`
	Rounding        string  `json:"rounding,omitempty"`
	Log2Norm2       float64 `json:"log2_norm2"`
	// Params is the crypto set of the layer's TLUs (for the output layer: of the key
	// its outputs are decrypted with); InputParams the set of its accumulators' key
	// (where its bit extractions run) when it differs.
	Params      *fhe.ParamsLiteral `json:"params"`
	InputParams *fhe.ParamsLiteral `json:"input_params,omitempty"`
	// PError is the actual error probability of the layer's worst TLU decoding (the
	// output's for the output layer), ExtractionPError of its worst bit extraction;
	// Shifts counts the TLU errors the simulation injected over the test set and
	// ExtractionErrors the misread bits.
	PError           float64 `json:"p_error"`
	ExtractionPError float64 `json:"extraction_p_error,omitempty"`
	Shifts           int64   `json:"shifts"`
	ExtractionErrors int64   `json:"extraction_errors,omitempty"`
	// Overflows counts the test accumulators outside the calibration range; they wrap
	// around in the TLU as they would under FHE.
	Overflows int64 `json:"overflows"`
	// PBSMS is one TLU (keyswitch + bootstrap) on one core; TLUMS the layer's TLUs spread
	// over the cores, RoundingMS its bit extractions, KeySwitchMS the part of TLUMS in
	// keyswitches between partitions; BootstrapMS = TLUMS + RoundingMS; LevelledMS its
	// dot products; LayerMS their sum.
	PBSMS       float64 `json:"pbs_ms"`
	TLUMS       float64 `json:"tlu_ms"`
	RoundingMS  float64 `json:"rounding_ms"`
	KeySwitchMS float64 `json:"keyswitch_between_keys_ms"`
	BootstrapMS float64 `json:"bootstrap_ms"`
	LevelledMS  float64 `json:"levelled_ms"`
	LayerMS     float64 `json:"layer_ms"`
}

// Result is what one evaluation measured. Its JSON form is what `fhetune eval --json`
// prints; the first eight fields are a contract (DESIGN.md).
type Result struct {
	// Accuracy is the test accuracy of the integer circuit with FHE's TLU errors,
	// QuantizedAccuracy without them, FloatAccuracy of the (pruned, fine-tuned) float
	// network.
	Accuracy          float64 `json:"accuracy"`
	FloatAccuracy     float64 `json:"float_accuracy"`
	QuantizedAccuracy float64 `json:"quantized_accuracy"`
	// LatencyMS is the estimated time of one encrypted inference; PBSCount its
	// bootstraps (TLUs and bit extractions), TLUCount its table lookups; MaxTLUBits its
	// widest TLU; Calibration the latency profile used.
	LatencyMS   float64       `json:"latency_ms"`
	PBSCount    int           `json:"pbs_count"`
	TLUCount    int           `json:"tlu_count"`
	MaxTLUBits  int           `json:"max_tlu_bits"`
	Calibration string        `json:"calibration"`
	Layers      []LayerResult `json:"layers"`
	// BootstrapKeyMB and KeySwitchKeyMB are the evaluation key sizes.
	BootstrapKeyMB float64 `json:"bootstrap_key_mb"`
	KeySwitchKeyMB float64 `json:"keyswitch_key_mb"`
	// PErrorPerTLU is the per-decoding target the sets were chosen for (0 with
	// global_p_error, which the optimizer spends unevenly); GlobalPError the actual
	// probability that one inference has any decoding error (TLUs, bit extractions,
	// outputs); ExpectedErrors the expected erring decodings per inference.
	PErrorPerTLU   float64 `json:"p_error_per_tlu"`
	GlobalPError   float64 `json:"global_p_error_actual"`
	ExpectedErrors float64 `json:"expected_errors"`
	// Cores and Strategy are the ones used; Cost is what chose the crypto sets: "ms"
	// (the calibrated milliseconds of the Env's timing) or "complexity" (Concrete's
	// complexity model, Concrete's choice). Knobs echoes the knobs.
	Cores    int    `json:"cores"`
	Strategy string `json:"strategy"`
	Cost     string `json:"cost"`
	// TestSamples is the size of the test split; Changed the predictions the errors
	// changed; Weights and ZeroWeights describe the pruned network.
	TestSamples int   `json:"test_samples"`
	Changed     int   `json:"changed_predictions"`
	Weights     int   `json:"weights"`
	ZeroWeights int   `json:"zero_weights"`
	Knobs       Knobs `json:"knobs"`
}

// Env holds what the trials of a process share. It is safe for concurrent use; make it
// with NewEnv or NewProfileEnv and keep it for the life of the process.
type Env struct {
	// Optimizer chooses the crypto sets; its memo is shared by every trial. It
	// minimizes its cost ([Env.Cost]): by default the calibrated milliseconds of Timing,
	// or Concrete's complexity with WithCost(fhe.CostComplexity).
	Optimizer *fhe.Optimizer
	// Timing turns sets into milliseconds.
	Timing circuit.Timing
	// DefaultCores is the core count of the latency estimate when Knobs.Cores is 0.
	DefaultCores int

	trained netCache
}

// Cost returns what the Env's optimizer minimizes when it chooses crypto sets:
// fhe.CostMS or fhe.CostComplexity.
func (e *Env) Cost() fhe.CostKind { return e.Optimizer.Cost() }

// EnvOption configures NewEnv and NewProfileEnv.
type EnvOption func(*envConfig) error

type envConfig struct {
	cost fhe.CostKind
}

// WithCost sets what the optimizer minimizes: fhe.CostMS, the calibrated milliseconds of
// the Env's timing (the default), or fhe.CostComplexity, Concrete's complexity model
// (Concrete's choice of sets). Both meet the same noise and security constraints. An
// empty cost keeps the default; an unknown one makes NewEnv fail with ErrKnobs.
func WithCost(c fhe.CostKind) EnvOption {
	return func(cfg *envConfig) error {
		if c == "" {
			return nil
		}
		k, err := fhe.ParseCostKind(string(c))
		if err != nil {
			return fmt.Errorf("%w: %w", ErrKnobs, err)
		}
		cfg.cost = k
		return nil
	}
}

// specEnvOptions returns the Env options that a resolved study spec's fhe section sets:
// its cost. Study runs and `study verify` make their Env with them.
func specEnvOptions(f FHESpec) []EnvOption {
	return []EnvOption{WithCost(fhe.CostKind(f.Cost))}
}

// NewEnv returns an Env with a fresh optimizer over fhe's default search space, which
// prices sets with t and minimizes their milliseconds unless an option says otherwise.
func NewEnv(t circuit.Timing, defaultCores int, opts ...EnvOption) (*Env, error) {
	if t == nil {
		return nil, fmt.Errorf("%w: no timing", ErrTask)
	}
	cfg := envConfig{cost: fhe.CostMS}
	for _, opt := range opts {
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	o, err := fhe.NewOptimizer(fhe.WithTimer(t), fhe.WithCost(cfg.cost))
	if err != nil {
		return nil, fmt.Errorf("tuner: %w", err)
	}
	return &Env{Optimizer: o, Timing: t, DefaultCores: max(1, defaultCores)}, nil
}

// NewProfileEnv returns an Env timed by a calibration profile (source names it, as
// calibration.Latest returns it), whose default core count is the profile's. Its
// optimizer minimizes the profile's milliseconds unless WithCost says otherwise.
func NewProfileEnv(pr calibration.Profile, source string, opts ...EnvOption) (*Env, error) {
	return NewEnv(ProfileTiming{Profile: pr, Name: source}, pr.Workers(), opts...)
}

// Evaluate runs one trial: prune and fine-tune the base network, compile it into an
// integer circuit, choose the crypto sets, simulate it over the test split with TLU
// errors injected, and estimate its latency (see the package doc). Errors wrap ErrKnobs
// for knobs out of range, ErrInfeasible (with a *circuit.LayerError naming the layer)
// when no FHE circuit exists for the knobs, ErrTask for a bad task, ctx's error when
// it is cancelled during fine-tuning, and whatever Task.OnQATEpoch returned when it
// stopped a training (ErrPruned for a study's pruner).
func Evaluate(ctx context.Context, env *Env, task Task, k Knobs) (Result, error) {
	if err := checkTrial(ctx, env, task, k); err != nil {
		return Result{}, err
	}
	cp, err := compileTrial(ctx, env, task, k)
	if err != nil {
		return Result{}, err
	}
	c, sol, noise := cp.Circuit, cp.Solution, cp.Noise
	res := Result{Knobs: k, TestSamples: task.Test.Len(), FloatAccuracy: cp.FloatAccuracy, Weights: cp.Weights, ZeroWeights: cp.ZeroWeights}
	sim, err := c.Simulate(cp.Test, task.Test.Y, &noise, task.Seed)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrTask, err)
	}
	cores := cp.Cores
	lat, err := c.Estimate(sol, env.Timing, cores)
	if err != nil {
		return Result{}, fmt.Errorf("tuner: estimate latency: %w", err)
	}
	res.Accuracy, res.QuantizedAccuracy, res.Changed = sim.Accuracy, sim.QuantizedAccuracy, sim.Changed
	res.LatencyMS, res.PBSCount, res.TLUCount, res.MaxTLUBits, res.Calibration = lat.TotalMS, lat.PBSCount, lat.TLUCount, lat.MaxTLUBits, lat.Source
	res.BootstrapKeyMB, res.KeySwitchKeyMB = lat.BootstrapKeyMB, lat.KeySwitchKeyMB
	res.PErrorPerTLU, res.GlobalPError, res.ExpectedErrors = sol.PError, sol.GlobalPError, sol.ExpectedErrors
	res.Cores, res.Strategy, res.Cost = cores, sol.Strategy.String(), string(sol.Cost)
	for i, l := range c.Layers {
		ll, lp := lat.Layers[i], sol.Layers[i]
		lit := lp.Params.Literal()
		lr := LayerResult{Name: l.Name, TLUCount: l.TLUCount, PBSCount: l.PBSCount(), Op: l.Op, AccumulatorBits: l.AccumulatorBits,
			TLUBits: l.TLUBits, LSBsRemoved: l.LSBsRemoved, Rounding: l.Rounding, Log2Norm2: l.Log2Norm2, Params: &lit,
			PError: lp.PError, ExtractionPError: lp.ExtractionPError, PBSMS: ll.PBSMS, TLUMS: ll.TLUMS, RoundingMS: ll.RoundingMS,
			KeySwitchMS: ll.KeySwitchMS, BootstrapMS: ll.BootstrapMS, LevelledMS: ll.LevelledMS, LayerMS: ll.LayerMS}
		if lp.InputPartition != lp.Partition {
			in := lp.Input.Literal()
			lr.InputParams = &in
		}
		if i < len(sim.Layers) {
			lr.Shifts, lr.ExtractionErrors, lr.Overflows = sim.Layers[i].Shifts, sim.Layers[i].ExtractionErrors, sim.Layers[i].Overflows
		}
		res.Layers = append(res.Layers, lr)
	}
	return res, nil
}

// checkTrial returns the first reason not to run a trial: no environment, bad knobs, a
// bad task, or ctx done.
func checkTrial(ctx context.Context, env *Env, task Task, k Knobs) error {
	if env == nil {
		return fmt.Errorf("%w: no environment", ErrTask)
	}
	if err := k.Check(); err != nil {
		return err
	}
	if err := task.check(); err != nil {
		return err
	}
	return ctx.Err()
}

// compiled is a trial up to its crypto sets: what Evaluate simulates and estimates, and
// what Verify runs encrypted.
type compiled struct {
	Circuit  *circuit.Circuit
	Solution *circuit.Solution
	Noise    circuit.Noise
	// Test holds the standardized test samples.
	Test *mat.Dense
	// FloatAccuracy is the (pruned, fine-tuned) float network's test accuracy; Weights
	// and ZeroWeights describe it.
	FloatAccuracy        float64
	Weights, ZeroWeights int
	// Cores is the core count of the latency estimate.
	Cores int
}

// compileTrial prunes and fine-tunes the base network, compiles it and chooses its
// crypto sets.
func compileTrial(ctx context.Context, env *Env, task Task, k Knobs) (*compiled, error) {
	cp, err := compileCircuit(ctx, env, task, k)
	if err != nil {
		return nil, err
	}
	pc, _ := k.paramsConfig()
	if cp.Solution, cp.Noise, err = cp.chooseParams(env.Optimizer, pc); err != nil {
		return nil, err
	}
	return cp, nil
}

// compileCircuit prunes and fine-tunes the base network and compiles it, leaving the
// crypto sets (Solution, Noise) to chooseParams.
func compileCircuit(ctx context.Context, env *Env, task Task, k Knobs) (*compiled, error) {
	fnet, err := env.trained.get(ctx, task, k.floatKnobs())
	if err != nil {
		return nil, err
	}
	net := fnet
	if k.qat() {
		if net, err = env.trained.get(ctx, task, k); err != nil {
			return nil, err
		}
	}
	cnet, err := CircuitNetwork(net)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTask, err)
	}
	cp := &compiled{Test: net.Standardize(task.Test.X), Cores: k.Cores}
	if cp.Cores == 0 {
		cp.Cores = max(1, env.DefaultCores)
	}
	cp.Weights, cp.ZeroWeights = net.Sparsity()
	if cp.FloatAccuracy, err = fnet.Accuracy(task.Test.X, task.Test.Y); err != nil {
		return nil, fmt.Errorf("%w: test data: %w", ErrTask, err)
	}
	cc, _ := k.compileConfig()
	if cp.Circuit, err = circuit.Compile(cnet, net.Standardize(task.Calib.X), cc); err != nil {
		return nil, classify(err)
	}
	return cp, nil
}

// chooseParams chooses the crypto sets of the compiled circuit for pc and returns them
// with the noise of their decodings.
func (cp *compiled) chooseParams(o *fhe.Optimizer, pc circuit.ParamsConfig) (*circuit.Solution, circuit.Noise, error) {
	sol, err := cp.Circuit.ChooseParams(o, pc)
	if err != nil {
		return nil, circuit.Noise{}, classify(err)
	}
	noise, err := cp.Circuit.Noise(sol)
	if err != nil {
		return nil, circuit.Noise{}, fmt.Errorf("tuner: %w", err)
	}
	return sol, noise, nil
}

// classify wraps a circuit error as bad knobs or an infeasible circuit.
func classify(err error) error {
	switch {
	case errors.Is(err, circuit.ErrConfig):
		return fmt.Errorf("%w: %w", ErrKnobs, err)
	case errors.Is(err, circuit.ErrTooWide), errors.Is(err, circuit.ErrNoParams), errors.Is(err, circuit.ErrNoTLU):
		return fmt.Errorf("%w: %w", ErrInfeasible, err)
	case errors.Is(err, circuit.ErrNetwork), errors.Is(err, circuit.ErrData):
		return fmt.Errorf("%w: %w", ErrTask, err)
	}
	return fmt.Errorf("tuner: %w", err)
}

// CircuitNetwork converts a float network of tuner/model into fhe/circuit's description
// (copying the weights), for inputs already standardized. A quantization-aware
// network's quantizers go with it: the first Quant layer becomes the input quantizer,
// one after an activation that activation's requantization, any other a Requant, and
// the layers' weight quantizers theirs, so that Compile builds the circuit the training
// ran.
func CircuitNetwork(net *model.Network) (*circuit.Network, error) {
	if err := net.Validate(); err != nil {
		return nil, err
	}
	out := &circuit.Network{InSize: net.InSize()}
	for _, l := range net.Layers {
		switch l := l.(type) {
		case *model.Linear:
			o, in := l.Dims()
			out.Layers = append(out.Layers, &circuit.Linear{Out: o, In: in, W: rowMajor(l.W), B: append([]float64(nil), l.B...), Quant: l.Quant.Clone()})
		case *model.Conv2d:
			out.Layers = append(out.Layers, &circuit.Conv2d{OutC: l.OutC, InC: l.InC, KH: l.KH, KW: l.KW, Stride: l.Stride,
				Pad: l.Pad, InH: l.InH, InW: l.InW, Dilation: l.Dil(), Groups: l.NumGroups(),
				W: rowMajor(l.W), B: append([]float64(nil), l.B...), Quant: l.Quant.Clone()})
		case *model.AvgPool2d:
			out.Layers = append(out.Layers, &circuit.AvgPool2d{K: l.K, Stride: l.Stride, C: l.C, InH: l.InH, InW: l.InW})
		case *model.MaxPool2d:
			out.Layers = append(out.Layers, &circuit.MaxPool2d{K: l.K, Stride: l.Stride, C: l.C, InH: l.InH, InW: l.InW})
		case model.ReLU:
			out.Layers = append(out.Layers, circuit.ReLU{})
		case model.Activation:
			out.Layers = append(out.Layers, circuit.Activation{Func: l.Func, Alpha: l.Alpha})
		case model.Flatten:
			out.Layers = append(out.Layers, circuit.Flatten{})
		case *model.Quant:
			q := l.Quantizer()
			if onlyFlatten(out.Layers) {
				out.Input = &q
				continue
			}
			switch prev := out.Layers[len(out.Layers)-1].(type) {
			case circuit.ReLU:
				if prev.Out == nil {
					out.Layers[len(out.Layers)-1] = circuit.ReLU{Out: &q}
					continue
				}
			case circuit.Activation:
				if prev.Out == nil {
					prev.Out = &q
					out.Layers[len(out.Layers)-1] = prev
					continue
				}
			}
			out.Layers = append(out.Layers, circuit.Requant{Out: q})
		default:
			return nil, fmt.Errorf("tuner: layer kind %q has no circuit form", l.Kind())
		}
	}
	if err := out.Validate(); err != nil {
		return nil, err
	}
	return out, nil
}

// onlyFlatten reports whether ls holds nothing but Flatten layers.
func onlyFlatten(ls []circuit.Layer) bool {
	for _, l := range ls {
		if _, ok := l.(circuit.Flatten); !ok {
			return false
		}
	}
	return true
}

func rowMajor(m *mat.Dense) []float64 {
	r, c := m.Dims()
	w := make([]float64, 0, r*c)
	for i := 0; i < r; i++ {
		w = append(w, m.RawRowView(i)...)
	}
	return w
}

// ProfileTiming times circuits with a calibration profile. Levelled work uses the
// profile's measured dot-product cost; a profile without one (DotNSPerCoef 0) falls back
// to Concrete's complexity model scaled by the profile's KS+PBS time, and Source says so.
type ProfileTiming struct {
	Profile calibration.Profile
	// Name is the profile's source (a database id or "default").
	Name string
}

// PBSMillis returns the profile's single-core KS+PBS time.
func (t ProfileTiming) PBSMillis(p fhe.Params) float64 { return t.Profile.PredictMS(p) }

// BootstrapMillis returns the profile's single-core time of the bootstrap part.
func (t ProfileTiming) BootstrapMillis(p fhe.Params) float64 { return t.Profile.BootstrapMS(p) }

// KeySwitchMillis returns the profile's single-core time of a keyswitch between keys.
func (t ProfileTiming) KeySwitchMillis(from, to fhe.Params, level int) float64 {
	return t.Profile.KeySwitchBetweenMS(from, to, level)
}

// ParallelMillis interpolates linearly in k between the single-core time (k = 1) and the
// profile's time with all its measured workers busy, and extrapolates the same line
// beyond them.
func (t ProfileTiming) ParallelMillis(p fhe.Params, k int) float64 {
	single := t.Profile.PredictMS(p)
	w := t.Profile.Workers()
	if k <= 1 || w <= 1 {
		return single
	}
	return single + (t.Profile.ParallelMS(p)-single)*float64(k-1)/float64(w-1)
}

// LevelledMillis returns macs multiply-adds of (k·N + 1)-coefficient ciphertexts at the
// profile's measured ns per coefficient, or the complexity model's macs·k·N operations at
// the profile's ms per KS+PBS operation when it measured none.
func (t ProfileTiming) LevelledMillis(p fhe.Params, macs int64) float64 {
	if t.Profile.DotNSPerCoef > 0 {
		return float64(macs) * float64(p.GLWEDimension()+1) * t.Profile.DotNSPerCoef / 1e6
	}
	perOp := t.Profile.PredictMS(p) / (p.PBSComplexity() + p.KeySwitchComplexity())
	return float64(macs) * p.DotProductComplexity(1) * perOp
}

// Source names the profile, noting when levelled work comes from the complexity model.
func (t ProfileTiming) Source() string {
	if t.Profile.DotNSPerCoef > 0 {
		return t.Name
	}
	return t.Name + " (levelled work from the complexity model)"
}

var _ circuit.Timing = ProfileTiming{}

// Default model specs for the short names ResolveSpec accepts.
const (
	DefaultMLPSpec = "mlp:64,64"
	DefaultCNNSpec = "cnn:c8k3p1,pool2,c16k3p1,pool2,fc64"
)

// ResolveSpec expands "mlp" and "cnn" to DefaultMLPSpec and DefaultCNNSpec and checks
// that any spec parses; it returns the canonical spec string.
func ResolveSpec(spec string) (string, error) {
	switch strings.TrimSpace(strings.ToLower(spec)) {
	case "mlp":
		spec = DefaultMLPSpec
	case "cnn":
		spec = DefaultCNNSpec
	}
	s, err := model.ParseSpec(spec)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrSpec, err)
	}
	return s.String(), nil
}

// SplitTask splits a data set with the default shares and seed (dataset.SplitConfig)
// and returns a Task without a base model.
func SplitTask(ds *dataset.Dataset, seed uint64) (Task, error) {
	sp, err := ds.Split(dataset.SplitConfig{Seed: seed})
	if err != nil {
		return Task{}, fmt.Errorf("%w: split %s: %w", ErrTask, ds.Name, err)
	}
	d := func(p *dataset.Dataset) model.Data { return model.Data{X: p.X, Y: p.Y} }
	return Task{Train: d(sp.Train), Val: d(sp.Val), Calib: d(sp.Calib), Test: d(sp.Test), Seed: seed}, nil
}

// DefaultBaseTraining is the training recipe of base models: at most 40 epochs of Adam
// (batch 32, learning rate 10^−3), stopping after 8 epochs without a better validation
// accuracy and keeping the best epoch's weights.
func DefaultBaseTraining(seed uint64) model.TrainConfig {
	return model.TrainConfig{Epochs: 40, Patience: 8, Seed: seed}
}

// TrainBase builds the network spec for ds (weights drawn from cfg.Seed), fits its
// standardizer on the task's training split and trains it with cfg on the training and
// validation splits.
func TrainBase(ctx context.Context, spec string, ds *dataset.Dataset, t Task, cfg model.TrainConfig) (*model.Network, error) {
	shape := ds.Shape
	if shape == nil {
		shape = []int{ds.Features()}
	}
	net, err := model.Build(spec, shape, ds.Classes, cfg.Seed)
	if err != nil {
		return nil, fmt.Errorf("%w: %s on %s: %w", ErrSpec, spec, ds.Name, err)
	}
	std := model.Standardizer(dataset.FitStandardizer(t.Train.X))
	net.Standardizer = &std
	net.Dataset = ds.Name
	if _, err := model.Train(ctx, net, t.Train, t.Val, cfg); err != nil {
		return nil, fmt.Errorf("tuner: train %s on %s: %w", spec, ds.Name, err)
	}
	return net, nil
}
