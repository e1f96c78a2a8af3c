package tuner

import (
	"fmt"
	"strings"

	"github.com/fhetune/fhetune/studies"
	"github.com/fhetune/fhetune/tuner/model"
)

// ConcreteConfig is a trial's knobs in the form Concrete ML takes them: the keyword
// arguments of compile_torch_model (n_bits, rounding_threshold_bits with its method,
// p_error or global_p_error), the Configuration fields of the crypto settings, and the pruning to
// apply to the network before compiling it.
type ConcreteConfig struct {
	Study   string `json:"study"`
	Trial   int    `json:"trial"`
	State   string `json:"state"`
	Dataset string `json:"dataset"`
	// Model is the network's spec string (or the model file it came from).
	Model string `json:"model"`
	// CompileArgs are the keyword arguments of concrete.ml.torch.compile.compile_torch_model.
	CompileArgs CompileArgs `json:"compile_args"`
	// Configuration holds fields of concrete's Configuration.
	Configuration ConcreteConfiguration `json:"configuration"`
	// Pruning is what the trial removed from the base network before compiling.
	Pruning PruningConfig `json:"pruning"`
	// Training is set for a quantization-aware trial: how to train it in Concrete ML.
	Training *TrainingConfig `json:"training,omitempty"`
	// Values holds the trial's objective values by name.
	Values map[string]float64 `json:"values,omitempty"`
}

// CompileArgs are Concrete ML's compile arguments.
type CompileArgs struct {
	// NBits is an int when one value gives all four bit-widths the way Concrete ML
	// expands an int (op_inputs = op_weights = n, model_inputs = model_outputs = max(n,
	// 5)), else a map with model_inputs (n_input_bits), op_inputs (n_a_bits), op_weights
	// (n_w_bits) and model_outputs (max(n_a_bits, 5), Concrete ML's default; fhetune
	// decrypts the last layer's accumulators, so it does not constrain them).
	NBits any `json:"n_bits"`
	// RoundingThresholdBits is null for no rounding, else the dict form Concrete ML
	// accepts ({"n_bits": 6, "method": "APPROXIMATE"}; common/utils.py,
	// process_rounding_threshold_bits), which carries rounding_method.
	RoundingThresholdBits *RoundingConfig `json:"rounding_threshold_bits"`
	// PError and GlobalPError: one is set, the other null.
	PError       *float64 `json:"p_error"`
	GlobalPError *float64 `json:"global_p_error"`
}

// RoundingConfig is rounding_threshold_bits in Concrete ML's dict form.
type RoundingConfig struct {
	// NBits is the number of most significant bits kept, 2..8.
	NBits int `json:"n_bits"`
	// Method is the name of Concrete's fhe.Exactness: "EXACT" or "APPROXIMATE".
	Method string `json:"method"`
}

// ConcreteConfiguration holds the crypto settings under concrete's Configuration names.
type ConcreteConfiguration struct {
	SecurityLevel              int    `json:"security_level"`
	ParameterSelectionStrategy string `json:"parameter_selection_strategy"`
}

// TrainingConfig is a quantization-aware trial in the form of Concrete ML's built-in
// networks (sklearn/qnn.py, NeuralNetClassifier, whose module__ keyword arguments set
// the Brevitas network of sklearn/qnn_module.py) and of the training fhetune ran.
type TrainingConfig struct {
	// Method is "qat".
	Method string `json:"method"`
	// Epochs is the epochs of quantization-aware training from the (pruned) float
	// network (NeuralNetClassifier's max_epochs trains from scratch instead).
	Epochs int `json:"epochs"`
	// Module holds NeuralNetClassifier's module__ arguments: module__n_w_bits,
	// module__n_a_bits, module__n_accum_bits (Concrete ML's default 32 when the trial
	// set no bound) and module__power_of_two_scaling.
	Module map[string]any `json:"module_params"`
	// NInputBits is the trial's n_input_bits; Concrete ML's built-in networks quantize
	// their inputs with module__n_a_bits, so a trial whose inputs differ needs a
	// Brevitas network of its own (compile_brevitas_qat_model).
	NInputBits int `json:"n_input_bits"`
}

// PruningConfig describes the pruning of a trial and how to reproduce it with
// torch.nn.utils.prune.
type PruningConfig struct {
	// Structured is the share of hidden neurons (Linear outputs but the last layer's) and
	// channels (Conv2d outputs) removed in each layer, those of smallest L2 norm of their
	// incoming weights; Norm is "l2".
	Structured float64 `json:"structured"`
	Norm       string  `json:"norm"`
	// Unstructured is the share of each layer's weights, the smallest in magnitude,
	// pinned at zero (sparsity).
	Unstructured float64 `json:"unstructured"`
	// FineTuneEpochs is how long the pruned network was trained again.
	FineTuneEpochs int `json:"fine_tune_epochs"`
	// WidthsBefore and WidthsAfter are the hidden widths (channels for convolutions) of
	// the base network and of the pruned one.
	WidthsBefore []int `json:"widths_before,omitempty"`
	WidthsAfter  []int `json:"widths_after,omitempty"`
	// Torch lists the equivalent torch.nn.utils.prune calls.
	Torch []string `json:"torch,omitempty"`
}

// ConcreteConfigOf returns the Concrete ML form of trial t of study st. base, the
// study's base model (nil when unknown), gives the widths before and after pruning.
func ConcreteConfigOf(st studies.Study, t studies.Trial, base *model.Network) (ConcreteConfig, error) {
	spec, err := SpecFromJSON(st.Spec)
	if err != nil {
		return ConcreteConfig{}, fmt.Errorf("study %q: %w", st.Name, err)
	}
	if len(t.Params) == 0 {
		return ConcreteConfig{}, fmt.Errorf("%w: trial %d of study %q has no knobs yet (state %s)", ErrNoPick, t.Number, st.Name, t.State)
	}
	k := KnobsOf(t.Params, spec.FHE)
	c := ConcreteConfig{Study: st.Name, Trial: t.Number, State: t.State.String(), Dataset: spec.Dataset, Model: spec.Model.Spec,
		Configuration: ConcreteConfiguration{SecurityLevel: spec.FHE.Security, ParameterSelectionStrategy: spec.FHE.Strategy}}
	if spec.Model.File != "" {
		c.Model = spec.Model.File
	}
	in := k.NInputBits
	if in == 0 {
		in = k.NABits
	}
	out := max(k.NABits, 5)
	if k.NWBits == k.NABits && in == k.NABits && in == out {
		c.CompileArgs.NBits = k.NABits
	} else {
		c.CompileArgs.NBits = map[string]int{"model_inputs": in, "op_inputs": k.NABits, "op_weights": k.NWBits, "model_outputs": out}
	}
	if k.RoundingThresholdBits > 0 {
		m := k.RoundingMethod
		if m == "" {
			m = RoundingExact
		}
		c.CompileArgs.RoundingThresholdBits = &RoundingConfig{NBits: k.RoundingThresholdBits, Method: strings.ToUpper(m)}
	}
	switch {
	case k.GlobalPError > 0:
		g := k.GlobalPError
		c.CompileArgs.GlobalPError = &g
	case k.PError > 0:
		p := k.PError
		c.CompileArgs.PError = &p
	}
	if k.qat() {
		accum := k.NAccumBits
		if accum == 0 {
			accum = 32 // Concrete ML's default: no pruning for the accumulators
		}
		c.Training = &TrainingConfig{Method: TrainingQAT, Epochs: k.qatEpochs(), NInputBits: in, Module: map[string]any{
			"module__n_w_bits": k.NWBits, "module__n_a_bits": k.NABits, "module__n_accum_bits": accum,
			"module__power_of_two_scaling": k.PowerOfTwoScaling}}
	}
	c.Pruning = PruningConfig{Structured: k.Pruning, Norm: PruneNorm.String(), Unstructured: k.Sparsity,
		FineTuneEpochs: *spec.Training.FineTuneEpochs}
	if k.Pruning == 0 && k.Sparsity == 0 {
		c.Pruning.FineTuneEpochs = 0
	}
	if k.Pruning > 0 {
		c.Pruning.Torch = append(c.Pruning.Torch, fmt.Sprintf(
			"for each hidden nn.Linear and every nn.Conv2d: torch.nn.utils.prune.ln_structured(layer, name=\"weight\", amount=%g, n=2, dim=0), then remove the pruned units", k.Pruning))
	}
	if k.Sparsity > 0 {
		c.Pruning.Torch = append(c.Pruning.Torch, fmt.Sprintf(
			"for every nn.Linear and nn.Conv2d: torch.nn.utils.prune.l1_unstructured(layer, name=\"weight\", amount=%g)", k.Sparsity))
	}
	if base != nil {
		c.Pruning.WidthsBefore = hiddenWidths(base)
		c.Pruning.WidthsAfter = c.Pruning.WidthsBefore
		if k.Pruning > 0 {
			pruned, err := model.PruneStructured(base, k.Pruning, PruneNorm)
			if err != nil {
				return ConcreteConfig{}, fmt.Errorf("tuner: prune the base model: %w", err)
			}
			c.Pruning.WidthsAfter = hiddenWidths(pruned)
		}
	}
	if t.Values != nil {
		c.Values = map[string]float64{}
		for i, o := range st.Objectives {
			if i < len(t.Values) {
				c.Values[o.Name] = t.Values[i]
			}
		}
	}
	return c, nil
}

// hiddenWidths returns the output widths of every Linear layer but the last and the
// channels of every Conv2d layer.
func hiddenWidths(net *model.Network) []int {
	var ws []int
	lastLinear := -1
	for i, l := range net.Layers {
		if _, ok := l.(*model.Linear); ok {
			lastLinear = i
		}
	}
	for i, l := range net.Layers {
		switch l := l.(type) {
		case *model.Linear:
			if i != lastLinear {
				o, _ := l.Dims()
				ws = append(ws, o)
			}
		case *model.Conv2d:
			ws = append(ws, l.OutC)
		}
	}
	return ws
}

// BaseModel returns the base model stored with a study, or nil when it has none.
func BaseModel(b []byte) (*model.Network, error) {
	if len(b) == 0 {
		return nil, nil
	}
	net := new(model.Network)
	if err := net.UnmarshalBinary(b); err != nil {
		return nil, err
	}
	return net, nil
}
