package tuner

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/fhetune/fhetune/tuner/dataset"
)

// Defaults of a study spec; Spec.Resolve fills them in.
const (
	// DefaultStudyName names the study of `fhetune study start` without a spec or --name.
	DefaultStudyName = "default"
	// DefaultDataset is the data set of a spec that names none.
	DefaultDataset = "digits"
	// DefaultTrials is the number of trials of a spec that gives none.
	DefaultTrials = 60
	// DefaultWorkers is the number of concurrent trials: one, so that a study is
	// reproducible unless asked otherwise.
	DefaultWorkers = 1
	// DefaultTrainingSeed seeds the data split, the base model's weights, fine-tuning and
	// the simulated TLU errors.
	DefaultTrainingSeed = 1
	// MaxWorkers bounds the workers of one process.
	MaxWorkers = 256
)

// Spec is a study spec: what to tune (data set and model), how the base model is trained,
// the search space of the knobs, the objectives and an optional constraint, the sampler,
// the budget and the FHE settings. It is read from YAML by ParseSpec (strictly: unknown
// keys and type errors are refused with their line) and stored with the study as JSON.
//
// The zero value (or a spec that leaves fields out) means the built-in default study:
// the digits data set, the default MLP, the whole space, 60 NSGA-II trials. Resolve fills
// every default in and checks every value; a resolved spec is what a study stores, so
// resuming a study never depends on defaults that may change later.
type Spec struct {
	// Name names the study in the database.
	Name string `yaml:"name" json:"name"`
	// Dataset is "digits", "breast-cancer", "fashion-mnist" or "csv:PATH".
	Dataset string `yaml:"dataset" json:"dataset"`
	// DataDir is the folder of the fashion-mnist IDX files (empty: the Debian package's).
	DataDir string `yaml:"data_dir,omitempty" json:"data_dir,omitempty"`
	// LabelColumn names the label column of a csv:PATH data set (empty: the last one).
	LabelColumn string `yaml:"label_column,omitempty" json:"label_column,omitempty"`
	// Model is the float network to tune.
	Model ModelSpec `yaml:"model" json:"model"`
	// Training is how the base model is trained and pruned networks fine-tuned.
	Training TrainingSpec `yaml:"training" json:"training"`
	// Space is the search space of the knobs.
	Space SpaceSpec `yaml:"space" json:"space"`
	// Objectives are optimized together (default: maximize accuracy, minimize latency_ms).
	Objectives []ObjectiveSpec `yaml:"objectives" json:"objectives"`
	// Constraint optionally bounds the accuracy drop or the latency of acceptable trials.
	Constraint ConstraintSpec `yaml:"constraint" json:"constraint"`
	// Sampler chooses the knobs of each trial.
	Sampler SamplerSpec `yaml:"sampler" json:"sampler"`
	// Pruner stops quantization-aware trainings that cannot win (default: dominated
	// when the space searches training qat, none otherwise; see PrunerSpec).
	Pruner PrunerSpec `yaml:"pruner" json:"pruner"`
	// Trials is the number of trials the study ends with (default 60).
	Trials int `yaml:"trials" json:"trials"`
	// Timeout stops starting new trials after this long (0: no limit), as "90s" or "10m".
	Timeout Duration `yaml:"timeout" json:"timeout"`
	// Workers is the number of trials one process runs at once (default 1).
	Workers int `yaml:"workers" json:"workers"`
	// Seed seeds the sampler.
	Seed int64 `yaml:"seed" json:"seed"`
	// FHE holds the encryption settings of every trial.
	FHE FHESpec `yaml:"fhe" json:"fhe"`

	file  string         // the spec file, for error messages
	lines map[string]int // field path → line in the file
	// autoPopulation is set by Resolve when it chose the NSGA-II population (a study of
	// the same name keeps its own).
	autoPopulation bool
}

// ModelSpec names the float network: a family and its hidden widths, a model spec string,
// or a model file trained beforehand (`fhetune model train`). Give a file or a
// spec/kind, not both.
type ModelSpec struct {
	// Kind is "mlp" or "cnn": that family's default network (DefaultMLPSpec,
	// DefaultCNNSpec), or with Hidden an MLP of those widths.
	Kind string `yaml:"kind,omitempty" json:"kind,omitempty"`
	// Hidden holds the hidden widths of an MLP, e.g. [64, 64].
	Hidden []int `yaml:"hidden,omitempty" json:"hidden,omitempty"`
	// Spec is a model spec string such as "mlp:64,64" or "cnn:c8k3p1,pool2,fc32".
	Spec string `yaml:"spec,omitempty" json:"spec,omitempty"`
	// File is a model file, fhetune's or ONNX (.onnx); the study stores a copy, so it
	// is read once.
	File string `yaml:"file,omitempty" json:"file,omitempty"`
	// Standardize fits a standardizer on the training split for a model file that has
	// none (imported networks trained on standardized data).
	Standardize bool `yaml:"standardize,omitempty" json:"standardize,omitempty"`
}

// TrainingSpec is how the base model is trained (once per study) and how pruned networks
// are fine-tuned. Zero fields take DefaultBaseTraining's values.
type TrainingSpec struct {
	Epochs       int     `yaml:"epochs" json:"epochs"`
	BatchSize    int     `yaml:"batch_size" json:"batch_size"`
	LearningRate float64 `yaml:"learning_rate" json:"learning_rate"`
	// Patience stops training after this many epochs without a better validation accuracy
	// (0: never stop early).
	Patience *int `yaml:"patience" json:"patience"`
	// FineTuneEpochs is the number of epochs of each pruned network (0: none).
	FineTuneEpochs *int `yaml:"fine_tune_epochs" json:"fine_tune_epochs"`
	// Seed seeds the data split, the weights, fine-tuning and the simulated TLU errors.
	Seed *uint64 `yaml:"seed" json:"seed"`
}

// SpaceSpec is the search space, one Range per knob under Concrete ML's names, and the
// rounding methods. A knob left out takes its default: n_w_bits and n_a_bits [2, 8],
// n_input_bits equal to n_a_bits, pruning [0, 0.7], sparsity 0, rounding_threshold_bits
// [3, 8] or off, rounding_method both (exact and approximate searched; exact when
// rounding is only off), and p_error [1e-5, 0.1] unless global_p_error
// is given. rounding_threshold_bits also takes Concrete ML's dict form, whose method
// sets rounding_method ({n_bits: [3, 8, off], method: approximate}); a spec that gives
// the method both ways must give the same one.
type SpaceSpec struct {
	NWBits                *Range `yaml:"n_w_bits" json:"n_w_bits,omitempty"`
	NABits                *Range `yaml:"n_a_bits" json:"n_a_bits,omitempty"`
	NInputBits            *Range `yaml:"n_input_bits" json:"n_input_bits,omitempty"`
	Pruning               *Range `yaml:"pruning" json:"pruning,omitempty"`
	Sparsity              *Range `yaml:"sparsity" json:"sparsity,omitempty"`
	RoundingThresholdBits *Range `yaml:"rounding_threshold_bits" json:"rounding_threshold_bits,omitempty"`
	// RoundingMethod is how accumulators are rounded: exact, approximate, or both,
	// searched ([exact, approximate], the default).
	RoundingMethod *MethodChoice `yaml:"rounding_method" json:"rounding_method,omitempty"`
	PError         *Range        `yaml:"p_error" json:"p_error,omitempty"`
	GlobalPError   *Range        `yaml:"global_p_error" json:"global_p_error,omitempty"`
	// Training is ptq, qat or [ptq, qat] (default ptq); QATEpochs, NAccumBits and
	// PowerOfTwoScaling ([false, true] searches both) are the knobs of
	// quantization-aware training, which need qat in Training. Without them a qat trial
	// trains DefaultQATEpochs epochs, unbounded, without power-of-two scaling.
	Training          *Choices `yaml:"training" json:"training,omitempty"`
	QATEpochs         *Range   `yaml:"qat_epochs" json:"qat_epochs,omitempty"`
	NAccumBits        *Range   `yaml:"n_accum_bits" json:"n_accum_bits,omitempty"`
	PowerOfTwoScaling *Choices `yaml:"power_of_two_scaling" json:"power_of_two_scaling,omitempty"`
}

// ObjectiveSpec is one objective: a measured value of every trial and its direction.
type ObjectiveSpec struct {
	// Name is one of Objectives().
	Name string `yaml:"name" json:"name"`
	// Direction is "maximize" or "minimize"; empty means the value's natural direction.
	Direction string `yaml:"direction" json:"direction"`
}

// ConstraintSpec bounds acceptable trials. Samplers treat trials that break it as
// infeasible (Deb's constraint-domination), and `study best` picks among the others.
type ConstraintSpec struct {
	// MaxAccuracyDrop bounds float accuracy (of the base model) minus accuracy.
	MaxAccuracyDrop *float64 `yaml:"max_accuracy_drop" json:"max_accuracy_drop,omitempty"`
	// MaxLatencyMS bounds latency_ms.
	MaxLatencyMS *float64 `yaml:"max_latency_ms" json:"max_latency_ms,omitempty"`
}

// FHESpec holds the encryption settings of every trial.
type FHESpec struct {
	// Security is the security level in bits (default 128).
	Security int `yaml:"security" json:"security"`
	// Cores is the number of cores of the latency estimate (0: the calibration profile's).
	Cores int `yaml:"cores" json:"cores"`
	// Strategy is "multi" (one crypto set per TLU layer, the default) or "mono".
	Strategy string `yaml:"strategy" json:"strategy"`
	// Cost is what chooses the crypto sets: "ms" (the calibration profile's
	// milliseconds, the default) or "complexity" (Concrete's complexity model). A spec
	// stored before the field existed resolves to "ms" too, so its study still resumes.
	Cost string `yaml:"cost" json:"cost"`
}

// SamplerSpec chooses the sampler and its options. In YAML it is either a name
// (`sampler: tpe`) or a mapping (`sampler: {name: nsga2, population: 12}`).
type SamplerSpec struct {
	// Name is nsga2 (default), tpe, random or grid.
	Name string `yaml:"name" json:"name"`
	// Population is NSGA-II's population size (default: a sixth of the trials, 4..50).
	Population int `yaml:"population,omitempty" json:"population,omitempty"`
	// MutationProb is the probability that NSGA-II mutates each knob of a child (default
	// DefaultMutationProb).
	MutationProb float64 `yaml:"mutation_prob,omitempty" json:"mutation_prob,omitempty"`
	// Eta is the distribution index of NSGA-II's crossover and mutation (default
	// DefaultEta): smaller values make children land farther from their parents.
	Eta float64 `yaml:"eta,omitempty" json:"eta,omitempty"`
	// StartupTrials is the number of random trials before TPE (default 10) or ParEGO
	// (default DefaultParEGOStartup) takes over.
	StartupTrials int `yaml:"startup_trials,omitempty" json:"startup_trials,omitempty"`
	// Objective is the one objective TPE optimizes; the default is latency_ms under a
	// max_accuracy_drop constraint, accuracy under max_latency_ms, or the only objective.
	Objective string `yaml:"objective,omitempty" json:"objective,omitempty"`
	// Points is the number of grid points of each continuous knob (grid; default 5).
	Points int `yaml:"points,omitempty" json:"points,omitempty"`
	// Sweep is the number of trials each trained network gets, its first included: after
	// the sampler proposes a new network, the next Sweep−1 trials search that network's
	// post-training knobs (see sweep.go). 1 turns the two levels off; grid search
	// enumerates its grid instead (default DefaultSweep when the space searches
	// quantization-aware training, 1 otherwise and for grid).
	Sweep int `yaml:"sweep,omitempty" json:"sweep,omitempty"`
}

var samplerKeys = []string{"name", "population", "mutation_prob", "eta", "startup_trials", "objective", "points", "sweep"}

// NSGA-II settings of fhetune studies. A study has tens of trials, not the thousands the
// nsga2 package's defaults were chosen for: over 16 seeds of the default digits study
// (60 trials, population 10), children that move farther from their parents (eta 3)
// and mutate more knobs (0.4 each) gave a larger final hypervolume than the package's
// defaults (eta 10, 1/knobs), which did no better than random search at that budget.
const (
	DefaultMutationProb = 0.4
	DefaultEta          = 3
)

// DefaultParEGOStartup is the number of random trials before ParEGO's model takes over:
// on the post-training digits study at 60 trials, 12 gave the largest mean hypervolume of
// the counts tried (6, 8, 10, 12, 15), and the steadiest over two sets of 8 seeds.
const DefaultParEGOStartup = 12

// DefaultSweep is the number of trials a trained network gets by default in a space
// that searches quantization-aware training (see SamplerSpec.Sweep); other spaces default
// to 1. On the post-training digits study, where every trial costs milliseconds, the
// sweep cost 1 to 2 points of hypervolume at 60 trials (BenchmarkSearchPTQ); where
// trials train, it cut the default study's trainings from 37 to 14 and its time from
// 21 s to 8 s (measured with NSGA-II; BenchmarkBuiltInStudy gives today's figures).
const DefaultSweep = 3

// UnmarshalYAML reads a sampler name or a mapping of the fields above.
func (s *SamplerSpec) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*s = SamplerSpec{Name: n.Value}
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: sampler: want a name or a mapping", n.Line)}}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; !slices.Contains(samplerKeys, k.Value) {
			return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: field %s not found in type tuner.SamplerSpec", k.Line, k.Value)}}
		}
	}
	type plain SamplerSpec
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	*s = SamplerSpec(p)
	return nil
}

// Duration is a time.Duration written as "90s", "10m" or "1h30m" (a bare number means
// seconds).
type Duration time.Duration

// String formats the duration as time.Duration does ("0s" for none).
func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML reads a duration.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseDuration(n.Value)
	if err != nil || n.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: want a duration such as 90s or 10m, got %q", n.Line, n.Value)}}
	}
	*d = v
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a duration string (or a number of seconds).
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		s = string(b)
	}
	v, err := parseDuration(s)
	if err != nil {
		return fmt.Errorf("tuner: duration %s: %w", b, err)
	}
	*d = v
	return nil
}

func parseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return Duration(f * float64(time.Second)), nil
	}
	v, err := time.ParseDuration(s)
	return Duration(v), err
}

// DefaultSpec returns the built-in default study's spec, unresolved (Resolve fills it):
// the defaults of every field, with n_input_bits searched over [2, 8] and both
// trainings (ptq, qat) and both power_of_two_scaling settings of qat in the space, so
// that the front reaches the 2–4-bit networks only quantization-aware training makes
// accurate. A spec file that leaves those knobs out searches post-training
// quantization with n_input_bits equal to n_a_bits.
func DefaultSpec() Spec {
	return Spec{Space: SpaceSpec{
		NInputBits:        &Range{Low: 2, High: 8},
		Training:          &Choices{Values: []string{TrainingPTQ, TrainingQAT}},
		PowerOfTwoScaling: &Choices{Values: []string{"false", "true"}},
	}}
}

// LoadSpec reads and parses the spec file at path (see ParseSpec).
func LoadSpec(path string) (Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Spec{}, &SpecError{File: path, Why: "cannot read: " + unwrapPathError(err)}
	}
	return ParseSpec(b, path)
}

func unwrapPathError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// ParseSpec decodes a YAML study spec strictly: unknown keys, duplicate keys, values of
// the wrong type and trailing documents are errors naming the line. file names the
// source in errors. The spec is not resolved: flags may still change it.
func ParseSpec(data []byte, file string) (Spec, error) {
	var s Spec
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil && !errors.Is(err, io.EOF) {
		return Spec{}, yamlError(file, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return Spec{}, &SpecError{File: file, Line: extra.Line, Why: "a spec holds one YAML document; found a second one"}
	} else if !errors.Is(err, io.EOF) {
		return Spec{}, yamlError(file, err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return Spec{}, yamlError(file, err)
	}
	s.file = file
	s.lines = map[string]int{}
	indexLines(&root, "", s.lines)
	return s, nil
}

var (
	reLine    = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	reUnknown = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
)

// yamlError turns a YAML decoding error into a one-line *SpecError for its first
// problem.
func yamlError(file string, err error) error {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	e := &SpecError{File: file, Why: msg}
	if m := reLine.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Why = m[2]
		if parserProblem(e.Why) {
			e.Line++ // yaml.v3 reports the 0-based line of a parser error's context
		}
	}
	if m := reUnknown.FindStringSubmatch(e.Why); m != nil {
		e.Why = fmt.Sprintf("unknown key %q", m[1])
	}
	e.Why = strings.ReplaceAll(e.Why, "tuner.", "")
	return e
}

// parserProblem reports whether a YAML syntax problem comes from yaml.v3's parser
// (rather than its scanner): the parser's problems are these.
func parserProblem(why string) bool {
	for _, p := range []string{"did not find expected <document start>", "did not find expected node content",
		"did not find expected key", "did not find expected ',' or ']'", "did not find expected ',' or '}'",
		"did not find expected '-' indicator", "found undefined tag handle", "found incompatible YAML document",
		"found duplicate %YAML directive", "found duplicate %TAG directive"} {
		if strings.HasPrefix(why, p) {
			return true
		}
	}
	return false
}

// indexLines records the line of every mapping key under its dotted path
// ("space.n_w_bits", "objectives[1].name").
func indexLines(n *yaml.Node, path string, lines map[string]int) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			indexLines(c, path, lines)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			p := k
			if path != "" {
				p = path + "." + k
			}
			lines[p] = n.Content[i].Line
			indexLines(n.Content[i+1], p, lines)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			lines[p] = c.Line
			indexLines(c, p, lines)
		}
	}
}

// errf returns a *SpecError about field, with the line the field had in the spec file.
func (s *Spec) errf(field, format string, args ...any) error {
	line := s.lines[field]
	for p := field; line == 0 && p != ""; {
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
		line = s.lines[p]
	}
	return &SpecError{File: s.file, Line: line, Field: field, Why: fmt.Sprintf(format, args...)}
}

// File returns the spec file the spec was read from ("" for none).
func (s Spec) File() string { return s.file }

// Resolve returns the spec with every default filled in, after checking every value. It
// does no I/O: data sets and model files are loaded by NewPlan. Resolving a resolved
// spec changes nothing. Errors are *SpecErrors (ErrStudySpec).
func (s Spec) Resolve() (Spec, error) {
	r := s
	r.Objectives = slices.Clone(s.Objectives)
	r.Model.Hidden = slices.Clone(s.Model.Hidden)
	if r.Name == "" {
		r.Name = DefaultStudyName
	}
	if err := checkName(r.Name); err != nil {
		return Spec{}, s.errf("name", "%s", err)
	}
	if r.Dataset == "" {
		r.Dataset = DefaultDataset
	}
	if err := checkDatasetName(r.Dataset); err != nil {
		return Spec{}, s.errf("dataset", "%s", err)
	}
	if err := r.resolveModel(); err != nil {
		return Spec{}, err
	}
	if err := r.resolveTraining(); err != nil {
		return Spec{}, err
	}
	if err := r.resolveSpace(); err != nil {
		return Spec{}, err
	}
	if err := r.resolveObjectives(); err != nil {
		return Spec{}, err
	}
	switch {
	case r.Trials == 0:
		r.Trials = DefaultTrials
	case r.Trials < 0:
		return Spec{}, s.errf("trials", "%d: want at least 1", r.Trials)
	}
	if r.Timeout < 0 {
		return Spec{}, s.errf("timeout", "%v: want 0 (no limit) or more", r.Timeout)
	}
	switch {
	case r.Workers == 0:
		r.Workers = DefaultWorkers
	case r.Workers < 0 || r.Workers > MaxWorkers:
		return Spec{}, s.errf("workers", "%d: want 1..%d", r.Workers, MaxWorkers)
	}
	if r.Seed < 0 {
		return Spec{}, s.errf("seed", "%d: want 0 or more", r.Seed)
	}
	if err := r.resolveFHE(); err != nil {
		return Spec{}, err
	}
	if err := r.resolveSampler(); err != nil {
		return Spec{}, err
	}
	if err := r.resolvePruner(); err != nil {
		return Spec{}, err
	}
	return r, nil
}

func checkName(name string) error {
	if len(name) > 200 {
		return fmt.Errorf("%d bytes: want at most 200", len(name))
	}
	for _, c := range name {
		if !unicode.IsPrint(c) || unicode.IsSpace(c) && c != ' ' {
			return fmt.Errorf("%q holds a control character", name)
		}
	}
	if strings.TrimSpace(name) != name {
		return fmt.Errorf("%q: leading or trailing blanks", name)
	}
	return nil
}

func checkDatasetName(name string) error {
	for _, form := range []string{"csv:PATH", "npz:PATH", "npy:X.npy,Y.npy"} {
		prefix := form[:4]
		if strings.HasPrefix(name, prefix) {
			if len(name) == len(prefix) {
				return fmt.Errorf("%s needs a file path (%s)", prefix, form)
			}
			return nil
		}
	}
	if slices.Contains(dataset.Names(), name) {
		return nil
	}
	return fmt.Errorf("unknown data set %q (known: %s, csv:PATH, npz:PATH or npy:X.npy,Y.npy)", name, strings.Join(dataset.Names(), ", "))
}

func (r *Spec) resolveModel() error {
	m := &r.Model
	if m.File != "" {
		if m.Spec != "" || m.Kind != "" || len(m.Hidden) > 0 {
			return r.errf("model", "give a model file or a spec/kind, not both")
		}
		return nil
	}
	if m.Standardize {
		return r.errf("model.standardize", "applies to a model file (networks built from a spec carry their standardizer)")
	}
	spec := m.Spec
	switch {
	case spec != "" && (m.Kind != "" || len(m.Hidden) > 0):
		return r.errf("model", "give spec or kind/hidden, not both")
	case len(m.Hidden) > 0:
		if m.Kind != "" && m.Kind != "mlp" {
			return r.errf("model.hidden", "hidden widths describe an MLP, not kind %q", m.Kind)
		}
		parts := make([]string, len(m.Hidden))
		for i, w := range m.Hidden {
			parts[i] = strconv.Itoa(w)
		}
		spec = "mlp:" + strings.Join(parts, ",")
	case m.Kind != "":
		if m.Kind != "mlp" && m.Kind != "cnn" {
			return r.errf("model.kind", "%q: want mlp or cnn", m.Kind)
		}
		spec = m.Kind
	case spec == "":
		spec = "mlp"
	}
	canon, err := ResolveSpec(spec)
	if err != nil {
		field := "model.spec"
		if m.Spec == "" {
			field = "model"
		}
		return r.errf(field, "%s", strings.TrimPrefix(strings.TrimPrefix(err.Error(), ErrSpec.Error()+": "), "model: "))
	}
	*m = ModelSpec{Spec: canon}
	return nil
}

func (r *Spec) resolveTraining() error {
	t := &r.Training
	def := DefaultBaseTraining(0)
	switch {
	case t.Epochs == 0:
		t.Epochs = def.Epochs
	case t.Epochs < 0:
		return r.errf("training.epochs", "%d: want at least 1", t.Epochs)
	}
	switch {
	case t.BatchSize == 0:
		t.BatchSize = 32
	case t.BatchSize < 0:
		return r.errf("training.batch_size", "%d: want at least 1", t.BatchSize)
	}
	switch {
	case t.LearningRate == 0:
		t.LearningRate = 1e-3
	case !(t.LearningRate > 0 && t.LearningRate < 10):
		return r.errf("training.learning_rate", "%v: want a value in (0, 10)", t.LearningRate)
	}
	if t.Patience == nil {
		p := def.Patience
		t.Patience = &p
	} else if *t.Patience < 0 {
		return r.errf("training.patience", "%d: want 0 (never stop early) or more", *t.Patience)
	}
	if t.FineTuneEpochs == nil {
		e := DefaultFineTuneEpochs
		t.FineTuneEpochs = &e
	} else if *t.FineTuneEpochs < 0 {
		return r.errf("training.fine_tune_epochs", "%d: want 0 (no fine-tuning) or more", *t.FineTuneEpochs)
	}
	if t.Seed == nil {
		sd := uint64(DefaultTrainingSeed)
		t.Seed = &sd
	}
	return nil
}

func (r *Spec) resolveObjectives() error {
	if len(r.Objectives) == 0 {
		r.Objectives = []ObjectiveSpec{{Name: "accuracy", Direction: "maximize"}, {Name: "latency_ms", Direction: "minimize"}}
	}
	seen := map[string]bool{}
	for i := range r.Objectives {
		o := &r.Objectives[i]
		field := fmt.Sprintf("objectives[%d]", i)
		m, ok := lookupMeasure(o.Name)
		if !ok {
			return r.errf(field+".name", "unknown objective %q (known: %s)", o.Name, strings.Join(Objectives(), ", "))
		}
		if seen[o.Name] {
			return r.errf(field+".name", "objective %q given twice", o.Name)
		}
		seen[o.Name] = true
		switch strings.ToLower(o.Direction) {
		case "":
			o.Direction = m.direction
		case "maximize", "max":
			o.Direction = "maximize"
		case "minimize", "min":
			o.Direction = "minimize"
		default:
			return r.errf(field+".direction", "%q: want maximize or minimize", o.Direction)
		}
	}
	c := r.Constraint
	if d := c.MaxAccuracyDrop; d != nil && !(*d >= 0 && *d <= 1) {
		return r.errf("constraint.max_accuracy_drop", "%v: want a share in [0, 1]", *d)
	}
	if t := c.MaxLatencyMS; t != nil && !(*t > 0 && *t < 1e12) {
		return r.errf("constraint.max_latency_ms", "%v: want a positive number of milliseconds", *t)
	}
	return nil
}

func (r *Spec) resolveFHE() error {
	f := &r.FHE
	if f.Security == 0 {
		f.Security = 128
	}
	if !slices.Contains(securityLevels(), f.Security) {
		return r.errf("fhe.security", "%d bits: supported %v", f.Security, securityLevels())
	}
	if f.Cores < 0 || f.Cores > 4096 {
		return r.errf("fhe.cores", "%d: want 0 (the calibration profile's) to 4096", f.Cores)
	}
	switch strings.ToLower(f.Strategy) {
	case "":
		f.Strategy = "multi"
	case "multi", "mono":
		f.Strategy = strings.ToLower(f.Strategy)
	default:
		return r.errf("fhe.strategy", "%q: want multi or mono", f.Strategy)
	}
	switch strings.ToLower(f.Cost) {
	case "": // the default, also of specs stored before the field existed
		f.Cost = "ms"
	case "ms", "complexity": // fhe.CostMS, fhe.CostComplexity
		f.Cost = strings.ToLower(f.Cost)
	default:
		return r.errf("fhe.cost", "%q: want ms or complexity", f.Cost)
	}
	return nil
}

// Samplers lists the sampler names a spec accepts.
func Samplers() []string { return []string{"parego", "nsga2", "tpe", "random", "grid"} }

func (r *Spec) resolveSampler() error {
	s := &r.Sampler
	s.Name = strings.ToLower(s.Name)
	if s.Name == "" {
		s.Name = "parego"
	}
	if !slices.Contains(Samplers(), s.Name) {
		return r.errf("sampler", "unknown sampler %q (known: %s)", s.Name, strings.Join(Samplers(), ", "))
	}
	switch {
	case s.Sweep == 0 && (s.Name == "grid" || !r.Space.searchesQAT()):
		s.Sweep = 1
	case s.Sweep == 0:
		s.Sweep = DefaultSweep
	case s.Sweep < 1 || s.Sweep > 1000:
		return r.errf("sampler.sweep", "%d: want 1 (no sweep) to 1000 trials per trained network", s.Sweep)
	case s.Sweep > 1 && s.Name == "grid":
		return r.errf("sampler.sweep", "%d: grid search visits its grid in order and does not sweep (want 1)", s.Sweep)
	}
	if (s.Population != 0 || s.MutationProb != 0 || s.Eta != 0) && s.Name != "nsga2" || s.StartupTrials != 0 && s.Name != "tpe" && s.Name != "parego" ||
		s.Objective != "" && s.Name != "tpe" || s.Points != 0 && s.Name != "grid" {
		return r.errf("sampler", "an option does not apply to sampler %s (population, mutation_prob, eta: nsga2; startup_trials: tpe, parego; objective: tpe; points: grid)", s.Name)
	}
	switch s.Name {
	case "nsga2":
		switch {
		case s.Population == 0:
			s.Population = min(50, max(4, r.Trials/6))
			r.autoPopulation = true
		case s.Population < 2:
			return r.errf("sampler.population", "%d: want at least 2", s.Population)
		}
		switch {
		case s.MutationProb == 0:
			s.MutationProb = DefaultMutationProb
		case !(s.MutationProb > 0 && s.MutationProb <= 1):
			return r.errf("sampler.mutation_prob", "%v: want a probability in (0, 1]", s.MutationProb)
		}
		switch {
		case s.Eta == 0:
			s.Eta = DefaultEta
		case !(s.Eta > 0 && s.Eta <= 1000):
			return r.errf("sampler.eta", "%v: want a value in (0, 1000]", s.Eta)
		}
	case "parego":
		switch {
		case s.StartupTrials == 0:
			s.StartupTrials = DefaultParEGOStartup
		case s.StartupTrials < 2:
			return r.errf("sampler.startup_trials", "%d: want 2 or more", s.StartupTrials)
		}
	case "tpe":
		switch {
		case s.StartupTrials == 0:
			s.StartupTrials = 10
		case s.StartupTrials < 0:
			return r.errf("sampler.startup_trials", "%d: want 0 or more", s.StartupTrials)
		}
		if s.Objective == "" {
			switch {
			case len(r.Objectives) == 1:
				s.Objective = r.Objectives[0].Name
			case r.Constraint.MaxAccuracyDrop != nil && r.objective("latency_ms") >= 0:
				s.Objective = "latency_ms"
			case r.Constraint.MaxLatencyMS != nil && r.objective("accuracy") >= 0:
				s.Objective = "accuracy"
			default:
				return r.errf("sampler", "tpe optimizes one objective: set sampler.objective, or a constraint (max_accuracy_drop makes it minimize latency_ms)")
			}
		}
		if r.objective(s.Objective) < 0 {
			return r.errf("sampler.objective", "%q is not an objective of the study", s.Objective)
		}
	case "grid":
		switch {
		case s.Points == 0:
			s.Points = 5
		case s.Points < 2:
			return r.errf("sampler.points", "%d: want at least 2", s.Points)
		}
	}
	return nil
}

// objective returns the position of the named objective, or -1.
func (r *Spec) objective(name string) int {
	return slices.IndexFunc(r.Objectives, func(o ObjectiveSpec) bool { return o.Name == name })
}

// identity returns the resolved spec's JSON without the fields that only say how one
// process runs it (trials, timeout, workers): two specs with the same identity describe
// the same study.
func (s Spec) identity() ([]byte, error) {
	s.Trials, s.Timeout, s.Workers = 0, 0, 0
	return json.Marshal(s)
}

// SpecFromJSON decodes a spec stored with a study and resolves it.
func SpecFromJSON(b []byte) (Spec, error) {
	var s Spec
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Spec{}, &SpecError{Why: "stored spec: " + err.Error()}
	}
	return s.Resolve()
}

// JSON returns the spec as a study stores it.
func (s Spec) JSON() ([]byte, error) { return json.Marshal(s) }
