package tuner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/c-bata/goptuna"
	"github.com/c-bata/goptuna/medianstopping"
	"go.yaml.in/yaml/v3"

	"github.com/fhetune/fhetune/studies"
)

// Pruner names, the values of a spec's pruner.
const (
	// PrunerNone lets every training run to its end.
	PrunerNone = "none"
	// PrunerDominated stops a quantization-aware training whose best validation
	// accuracy so far is below what a comparable training (of a network that costs no
	// more, see PrunerSpec) had reached at the same epoch: the network is already
	// dominated. It is Optuna's PercentilePruner keeping the top 0%.
	PrunerDominated = "dominated"
	// PrunerMedian stops a quantization-aware training whose best validation accuracy
	// so far is below the median that comparable trainings had reached at the same
	// epoch: Optuna's MedianPruner over the comparable trainings.
	PrunerMedian = "median"
)

// Defaults of the pruners.
const (
	// DefaultDominatedStartup is the number of comparable trainings that must have
	// completed before the dominated rule prunes: one cheaper training that is more
	// accurate already dominates.
	DefaultDominatedStartup = 1
	// DefaultMedianStartup is the number of comparable trainings that must have
	// completed before the median rule prunes (Optuna's n_startup_trials is 5: a study of
	// tens of trials has few comparable trainings, and three already give a median).
	DefaultMedianStartup = 3
	// DefaultPrunerWarmup is the number of epochs at which no training is pruned
	// (Optuna's n_warmup_steps): the first epoch from a float network is noisy.
	DefaultPrunerWarmup = 1
)

// Pruners lists the pruner names a spec accepts.
func Pruners() []string { return []string{PrunerNone, PrunerDominated, PrunerMedian} }

// PrunerSpec chooses how a study stops quantization-aware trainings that cannot win.
// In YAML it is a name (`pruner: dominated`) or a mapping (`pruner: {name: median,
// startup_trainings: 5, warmup_epochs: 2}`).
//
// Both rules compare a training only with the trainings of networks that cost no
// more: every bit-width (n_w_bits, n_a_bits, n_input_bits, n_accum_bits with 0 as
// unbounded) at most this one's, pruning and sparsity at least this one's, and the same
// power_of_two_scaling (it trades accuracy for latency in no fixed direction).
// qat_epochs does not matter: curves are compared epoch by epoch, and Adam without a
// schedule makes the same curve whatever the number of epochs. A network less accurate
// at epoch e than networks at most as costly is likely dominated on the front; a more
// expensive network is not pruned by cheaper, worse ones, and a cheap network is never
// compared with an expensive one. Plain median stopping across all networks would prune
// every 2-bit network against the 8-bit ones, which is what a multi-objective study
// must not do.
//
// dominated (the default with qat in the space) prunes a training that one
// comparable training already beats; median one that half of them beat. Replaying two
// 80-trial NSGA-II studies of the digits MLP (2–5-bit qat networks, pruning 0–0.6, 5
// epochs; 46 and 45 trainings, 38 of each ending off the front), dominated would have
// stopped 9 and 7 trainings after epoch 2–4 (one of the 16 a network that reached the
// front) and median none: more bits nearly always train to more accuracy, so the
// median of the cheaper networks rarely beats a dearer one.
//
// Only quantization-aware trainings are watched: the fine-tuning of a pruned float
// network is short and shared by every bit-width. A training's last epoch is never
// pruned (it has cost all it will). Each watched training stores its validation
// accuracy per epoch as the trial's intermediate values (epoch 0: the network set up
// for training, before its first epoch). A pruned training is neither cached nor
// stored; a later trial with the same training knobs shares its verdict: it is pruned
// before training again (see PrunedError.Trial). A training that ran to its end is kept
// and reused as before, never judged again.
type PrunerSpec struct {
	// Name is none, dominated or median. Default: dominated when the space searches
	// training qat, none otherwise.
	Name string `yaml:"name" json:"name"`
	// StartupTrainings is the number of comparable trainings that must have completed
	// before a training is pruned (default DefaultDominatedStartup or
	// DefaultMedianStartup).
	StartupTrainings int `yaml:"startup_trainings,omitempty" json:"startup_trainings,omitempty"`
	// WarmupEpochs is the number of epochs at which no training is pruned (default
	// DefaultPrunerWarmup; 0 prunes from the first epoch on).
	WarmupEpochs *int `yaml:"warmup_epochs,omitempty" json:"warmup_epochs,omitempty"`
}

var prunerKeys = []string{"name", "startup_trainings", "warmup_epochs"}

// UnmarshalYAML reads a pruner name or a mapping of the fields above.
func (p *PrunerSpec) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*p = PrunerSpec{Name: n.Value}
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: pruner: want a name or a mapping", n.Line)}}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; !slices.Contains(prunerKeys, k.Value) {
			return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: field %s not found in type tuner.PrunerSpec", k.Line, k.Value)}}
		}
	}
	type plain PrunerSpec
	var v plain
	if err := n.Decode(&v); err != nil {
		return err
	}
	*p = PrunerSpec(v)
	return nil
}

// active reports whether the pruner may stop trainings.
func (p PrunerSpec) active() bool { return p.Name != PrunerNone }

// resolvePruner fills the pruner's defaults (after resolveSpace) and checks it. A
// stored spec of a study made before pruners existed resolves as a new spec with the
// same space does, so that the study resumes (with the default pruner).
func (r *Spec) resolvePruner() error {
	p := &r.Pruner
	qat := r.Space.Training != nil && slices.Contains(r.Space.Training.Values, TrainingQAT)
	p.Name = strings.ToLower(p.Name)
	if p.Name == "" {
		p.Name = PrunerNone
		if qat {
			p.Name = PrunerDominated
		}
	}
	startup := DefaultMedianStartup
	switch p.Name {
	case PrunerNone:
		if p.StartupTrainings != 0 || p.WarmupEpochs != nil {
			return r.errf("pruner", "startup_trainings and warmup_epochs apply to pruners dominated and median")
		}
		return nil
	case PrunerDominated:
		startup = DefaultDominatedStartup
	case PrunerMedian:
	default:
		return r.errf("pruner", "unknown pruner %q (known: %s)", p.Name, strings.Join(Pruners(), ", "))
	}
	if !qat {
		return r.errf("pruner", "pruner %s watches quantization-aware trainings: it needs training qat in the space", p.Name)
	}
	switch {
	case p.StartupTrainings == 0:
		p.StartupTrainings = startup
	case p.StartupTrainings < 0:
		return r.errf("pruner.startup_trainings", "%d: want 1 or more", p.StartupTrainings)
	}
	if p.WarmupEpochs == nil {
		w := DefaultPrunerWarmup
		p.WarmupEpochs = &w
	} else if *p.WarmupEpochs < 0 {
		return r.errf("pruner.warmup_epochs", "%d: want 0 or more", *p.WarmupEpochs)
	}
	return nil
}

// PrunedError reports a quantization-aware training that a study's pruner stopped. It
// matches ErrPruned; Run stores its trial as PRUNED with the error's fields as the
// "pruned" attribute (see TrialPruning).
type PrunedError struct {
	// Rule is the pruner that stopped the training (dominated or median).
	Rule string `json:"rule"`
	// Trial is the number of the trial whose training was judged: the pruned trial
	// itself, or an earlier trial with the same training knobs whose verdict it shares
	// (its training did not run again).
	Trial int `json:"trial"`
	// Epoch is the epoch after which the training stopped.
	Epoch int `json:"epoch"`
	// ValAccuracy is the training's best validation accuracy up to Epoch; Threshold
	// the validation accuracy of the comparable trainings at Epoch that it fell below
	// (their best for dominated, their median for median), and Comparable the number of
	// comparable trainings.
	ValAccuracy float64 `json:"val_accuracy"`
	Threshold   float64 `json:"threshold"`
	Comparable  int     `json:"comparable"`
}

// Error says at which epoch the training stopped and why.
func (e *PrunedError) Error() string {
	what := "best"
	if e.Rule == PrunerMedian {
		what = "median"
	}
	return fmt.Sprintf("tuner: training pruned after epoch %d: best validation accuracy %.4f below %.4f, the %s of %d comparable trainings (networks that cost no more; judged in trial %d)",
		e.Epoch, e.ValAccuracy, e.Threshold, what, e.Comparable, e.Trial)
}

// Is reports whether target is ErrPruned.
func (e *PrunedError) Is(target error) bool { return target == ErrPruned }

// prunedAttrs is the JSON stored with a pruned trial.
type prunedAttrs struct {
	Pruned PrunedError `json:"pruned"`
	Knobs  Knobs       `json:"knobs"`
	EvalMS float64     `json:"eval_ms"`
}

// TrialPruning decodes why Run pruned a trial. ok is false for a trial that was not
// pruned by Run; an error means attributes that cannot be read.
func TrialPruning(t studies.Trial) (PrunedError, bool, error) {
	if t.State != studies.Pruned || len(t.Attrs) == 0 || string(t.Attrs) == "null" {
		return PrunedError{}, false, nil
	}
	var a struct {
		Pruned *PrunedError `json:"pruned"`
	}
	if err := json.Unmarshal(t.Attrs, &a); err != nil {
		return PrunedError{}, false, fmt.Errorf("tuner: trial %d: attributes: %w", t.Number, err)
	}
	if a.Pruned == nil {
		return PrunedError{}, false, nil
	}
	return *a.Pruned, true, nil
}

// trainingKey identifies the network a trial's training knobs make (its training, bits,
// pruning, and the knobs of quantization-aware training): trials with the same key
// share one trained network. The pruner and the two-level sweep group trials by it.
func (k Knobs) trainingKey() string {
	return fmt.Sprintf("training=%s n_w_bits=%d n_a_bits=%d n_input_bits=%d pruning=%g sparsity=%g n_accum_bits=%d power_of_two_scaling=%t qat_epochs=%d",
		strings.ToLower(k.Training), k.NWBits, k.NABits, k.inputBits(), k.Pruning, k.Sparsity, k.NAccumBits, k.PowerOfTwoScaling, k.qatEpochs())
}

// inputBits returns n_input_bits, or n_a_bits when it is not set.
func (k Knobs) inputBits() int {
	if k.NInputBits == 0 {
		return k.NABits
	}
	return k.NInputBits
}

// costsNoMore reports whether a network trained quantization-aware with knobs a costs
// no more than one trained with b, knob by knob (see PrunerSpec): a's trainings are
// the ones b's is compared with.
func costsNoMore(a, b Knobs) bool {
	accum := func(k Knobs) int {
		if k.NAccumBits == 0 {
			return math.MaxInt
		}
		return k.NAccumBits
	}
	return a.NWBits <= b.NWBits && a.NABits <= b.NABits && a.inputBits() <= b.inputBits() &&
		accum(a) <= accum(b) && a.Pruning >= b.Pruning && a.Sparsity >= b.Sparsity &&
		a.PowerOfTwoScaling == b.PowerOfTwoScaling
}

// trainingCurve is a finished quantization-aware training: its knobs and its
// validation accuracy by epoch.
type trainingCurve struct {
	knobs  Knobs
	values map[int]float64
}

// pruneRule is the rule of a spec's pruner: goptuna's percentile pruner over the
// comparable trainings, keeping the top keep percent of them (0: dominated, 50: median).
type pruneRule struct {
	keep            float64
	startup, warmup int
}

// newPruneRule returns the rule of a resolved, active pruner spec.
func newPruneRule(p PrunerSpec) pruneRule {
	r := pruneRule{startup: p.StartupTrainings, warmup: *p.WarmupEpochs}
	if p.Name == PrunerMedian {
		r.keep = 50
	}
	return r
}

// verdict is a rule's judgement of a training at its latest epoch.
type verdict struct {
	prune     bool
	best      float64 // the training's best validation accuracy so far
	threshold float64 // the comparable trainings' percentile at the epoch (NaN: none reached it)
	// comparable counts the comparable trainings.
	comparable int
}

// judge applies the rule to a training of k whose validation accuracies so far (epoch
// 1 on; epoch 0 is ignored) are curve, against the completed trainings done.
//
// The decision is goptuna's medianstopping.PercentilePruner (Optuna's PercentilePruner
// and MedianPruner: the best value so far below the percentile, at the latest step, of
// the completed trials' values, after n_startup trials and n_warmup steps), run over an
// in-memory goptuna study that holds only the comparable trainings: goptuna's pruners
// read their competitors from a study, and the comparable set is what makes the rule
// fit a multi-objective study.
func (m pruneRule) judge(k Knobs, curve map[int]float64, done []trainingCurve) (verdict, error) {
	v := verdict{best: math.Inf(-1), threshold: math.NaN()}
	step := -1
	for e, x := range curve {
		if e >= 1 {
			v.best = max(v.best, x)
			step = max(step, e)
		}
	}
	if step < 1 {
		return v, nil
	}
	storage := goptuna.NewInMemoryStorage()
	id, err := storage.CreateNewStudy("pruner")
	if err == nil {
		err = storage.SetStudyDirection(id, goptuna.StudyDirectionMaximize)
	}
	if err != nil {
		return v, fmt.Errorf("tuner: pruner: %w", err)
	}
	var atStep []float64
	for _, d := range done {
		if !costsNoMore(d.knobs, k) {
			continue
		}
		vals := trainedEpochs(d.values)
		if len(vals) == 0 {
			continue
		}
		v.comparable++
		if x, ok := vals[step]; ok {
			atStep = append(atStep, x)
		}
		if _, err := storage.CloneTrial(id, goptuna.FrozenTrial{State: goptuna.TrialStateComplete, IntermediateValues: vals}); err != nil {
			return v, fmt.Errorf("tuner: pruner: %w", err)
		}
	}
	v.threshold = percentile(atStep, 100-m.keep)
	// Percentile is set directly: NewPercentilePruner refuses 0, which Optuna allows.
	p := &medianstopping.PercentilePruner{Percentile: m.keep, NStartUpTrials: m.startup, NWarmUpSteps: m.warmup}
	v.prune, err = p.Prune(&goptuna.Study{ID: id, Storage: storage},
		goptuna.FrozenTrial{State: goptuna.TrialStateRunning, IntermediateValues: trainedEpochs(curve)})
	if err != nil {
		return v, fmt.Errorf("tuner: pruner: %w", err)
	}
	return v, nil
}

// trainedEpochs returns the values of epochs 1 and later.
func trainedEpochs(curve map[int]float64) map[int]float64 {
	out := make(map[int]float64, len(curve))
	for e, x := range curve {
		if e >= 1 {
			out[e] = x
		}
	}
	return out
}

// percentile returns the q-th percentile of xs (0 < q ≤ 100) by linear interpolation
// between order statistics, as goptuna's (numpy's default), for the record of a
// verdict; NaN for none.
func percentile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	pos := float64(len(s)-1) * q / 100
	i := int(math.Floor(pos))
	if i >= len(s)-1 {
		return s[len(s)-1]
	}
	return s[i] + (s[i+1]-s[i])*(pos-float64(i))
}

// qatEpochKey is the context key of the per-epoch hook Run sets for a trial.
type qatEpochKey struct{}

// withQATEpoch returns ctx carrying the per-epoch hook of a trial's evaluation.
func withQATEpoch(ctx context.Context, f func(epoch int, valAccuracy float64) error) context.Context {
	return context.WithValue(ctx, qatEpochKey{}, f)
}

// QATEpochFunc returns the hook Run puts in the context of a trial's evaluation for
// Task.OnQATEpoch: it records the trial's validation accuracy per epoch and applies the
// study's pruner. It is nil outside Run and for trials without quantization-aware
// training. Run's default objective uses it; an EvalFunc given to WithEvaluator that
// calls Evaluate sets it in its Task to have its trainings pruned too.
func QATEpochFunc(ctx context.Context) func(epoch int, valAccuracy float64) error {
	f, _ := ctx.Value(qatEpochKey{}).(func(epoch int, valAccuracy float64) error)
	return f
}

// trialWatch is the runner's side of the pruner for one trial: it stores the validation
// accuracy of each epoch of the trial's quantization-aware training and judges it. Its
// hook is called by one training at a time (Task.OnQATEpoch).
type trialWatch struct {
	r      *runner
	id     int64
	number int
	k      Knobs
	rule   pruneRule
	name   string // the pruner's name
	active bool   // the study prunes (else the watch only counts the training)

	started bool            // the training was about to begin (epoch 0 was reported)
	stopped bool            // this watch stopped it
	curve   map[int]float64 // validation accuracy by epoch
	done    []trainingCurve // the comparable candidates, read when the training began
}

// newTrialWatch returns the watch of a claimed trial with knobs k.
func (r *runner) newTrialWatch(c *claimed, k Knobs) *trialWatch {
	w := &trialWatch{r: r, id: c.id, number: c.number, k: k, name: r.spec.Pruner.Name, active: r.spec.Pruner.active(),
		curve: map[int]float64{}}
	if w.active {
		w.rule = newPruneRule(r.spec.Pruner)
	}
	return w
}

// hook returns the Task.OnQATEpoch function of the trial; its store writes use ctx.
func (w *trialWatch) hook(ctx context.Context) func(epoch int, valAccuracy float64) error {
	return func(epoch int, acc float64) error {
		if epoch == 0 && !w.started {
			w.started = true
			if w.active {
				if err := w.begin(ctx); err != nil {
					return err // the training does not run
				}
			}
			w.r.countTraining()
		}
		if !w.active || math.IsNaN(acc) {
			return nil
		}
		if err := w.r.db.Report(ctx, w.id, epoch, acc); err != nil {
			return fmt.Errorf("tuner: record epoch %d of trial %d: %w", epoch, w.number, err)
		}
		w.curve[epoch] = acc
		if epoch == 0 || epoch >= w.k.qatEpochs() {
			return nil
		}
		v, err := w.rule.judge(w.k, w.curve, w.done)
		if err != nil || !v.prune {
			return err
		}
		w.stopped = true
		return &PrunedError{Rule: w.name, Trial: w.number, Epoch: epoch, ValAccuracy: v.best, Threshold: finiteOr0(v.threshold),
			Comparable: v.comparable}
	}
}

// begin reads the study's finished quantization-aware trainings when the trial's
// training starts: an earlier PRUNED trial with the same training knobs prunes this
// one at once; the trainings the rule compares with are those that ran to their last
// epoch, as the intermediate values of a COMPLETE or FAIL trial (a network that trained
// and then had no FHE circuit still says what its knobs reach; an interrupted training
// has no last epoch), one per training.
func (w *trialWatch) begin(ctx context.Context) error {
	ts, err := w.r.db.Trials(ctx, w.r.st.ID, studies.TrialFilter{States: []studies.State{studies.Complete, studies.Fail, studies.Pruned}})
	if err != nil {
		return fmt.Errorf("tuner: pruner: %w", err)
	}
	key := w.k.trainingKey()
	seen := map[string]bool{}
	for _, t := range ts {
		if t.ID == w.id {
			continue
		}
		k := KnobsOf(t.Params, w.r.spec.FHE)
		if !k.qat() {
			continue
		}
		if t.State == studies.Pruned {
			if k.trainingKey() != key {
				continue
			}
			pe, ok, err := TrialPruning(t)
			if err != nil || !ok {
				pe = PrunedError{Rule: w.name, Trial: t.Number, Epoch: lastEpoch(t.Intermediate)}
			}
			return &pe
		}
		if _, ended := t.Intermediate[k.qatEpochs()]; !ended || seen[k.trainingKey()] {
			continue
		}
		seen[k.trainingKey()] = true
		w.done = append(w.done, trainingCurve{knobs: k, values: t.Intermediate})
	}
	return nil
}

// lastEpoch returns the highest step of a curve (0 for none).
func lastEpoch(curve map[int]float64) int {
	e := 0
	for s := range curve {
		e = max(e, s)
	}
	return e
}

func finiteOr0(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return x
}

// storePruned stores a trial whose training the pruner stopped as PRUNED, with the
// verdict (the *PrunedError in err) as its "pruned" attribute; it does not count as a
// trained network anywhere (see trainQAT).
func (r *runner) storePruned(ctx context.Context, c *claimed, k Knobs, err error, dur time.Duration) error {
	pe := &PrunedError{Rule: r.spec.Pruner.Name, Trial: c.number}
	errors.As(err, &pe)
	attrs, jerr := json.Marshal(prunedAttrs{Pruned: *pe, Knobs: k, EvalMS: float64(dur) / 1e6})
	if jerr != nil {
		return fmt.Errorf("encode trial %d: %w", c.number, jerr)
	}
	return r.db.Prune(ctx, c.id, attrs)
}

// countTraining counts a quantization-aware training this process started.
func (r *runner) countTraining() {
	r.mu.Lock()
	r.trainings++
	r.mu.Unlock()
}
