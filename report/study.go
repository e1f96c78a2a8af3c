package report

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// Objective names and directions the report knows.
const (
	ObjectiveAccuracy = "accuracy"
	ObjectiveLatency  = "latency_ms"
	Maximize          = "maximize"
	Minimize          = "minimize"
)

// StateComplete is the state of a trial that finished with values; only complete trials
// are plotted. Other states (FAIL, RUNNING, PRUNED, ...) are counted in the summary.
const StateComplete = "COMPLETE"

// StatePruned is the state of a trial whose training a study's pruner stopped early. It
// is never plotted; index.html lists pruned trials with their Pruning in a table.
const StatePruned = "PRUNED"

// defaultKnobs is the order in which knobs are shown when Study.Knobs is empty.
var defaultKnobs = []string{
	"n_w_bits", "n_a_bits", "n_input_bits", "pruning", "sparsity",
	"rounding_threshold_bits", "rounding_method", "p_error", "global_p_error",
}

// Study is everything a report shows, as plain JSON-tagged data. The caller fills it from
// the study store; [Write] validates it and never modifies it.
type Study struct {
	// Name is the study's name, shown in titles.
	Name string `json:"name"`
	// Objectives lists the study's objectives; empty means the default, maximize accuracy
	// and minimize latency_ms. Only those two names are known.
	Objectives []Objective `json:"objectives,omitempty"`
	// FloatAccuracy is the float model's accuracy, drawn as a reference line; zero means
	// unknown (no line).
	FloatAccuracy float64 `json:"float_accuracy"`
	// Knobs are the knob names in the order to show them. A knob that no complete trial
	// has is left out. Empty means the knobs the trials have in this order: n_w_bits,
	// n_a_bits, n_input_bits, pruning, sparsity, rounding_threshold_bits,
	// rounding_method, p_error, global_p_error, then any others sorted by name.
	Knobs []string `json:"knobs,omitempty"`
	// KnobLabels names the values of categorical knobs: value i of knob K is shown as
	// KnobLabels[K][i] on the knob plot's axis and in the front table (rounding_method:
	// ["exact", "approximate"]). A trial's value of such a knob must be an index of its
	// labels. Knobs without labels are numbers.
	KnobLabels map[string][]string `json:"knob_labels,omitempty"`
	// ChosenTrial is the trial whose per-layer time is broken down; nil means the first
	// pick, or else the most accurate trial on the front.
	ChosenTrial *int `json:"chosen_trial,omitempty"`
	// Picks are the trials `study best` would pick, each labelled on the Pareto plot.
	Picks []Pick `json:"picks,omitempty"`
	// History is the study's progress, one point per trial, computed by the caller.
	// Empty means no history plot.
	History []HistoryPoint `json:"history,omitempty"`
	// Trials are all trials in any state, in any order.
	Trials []Trial `json:"trials"`
	// Compare holds the Pareto fronts of other studies of the same accuracy and latency
	// objectives, for example a study searched without quantization-aware training. Each
	// is drawn on the Pareto plot as a step line of its own under this study's points,
	// and listed in index.html's summary, in this order. Empty means no comparison.
	Compare []Front `json:"compare,omitempty"`
}

// Front is the Pareto front of another study, drawn next to the reported one.
type Front struct {
	// Name is the other study's name: unique among the fronts and not the reported
	// study's own name.
	Name string `json:"name"`
	// Points are the front's trials in any order. Each accuracy must be in [0, 1] and
	// each latency positive (the latency axis is log scale). Empty means the study has no
	// complete trial yet: it is listed in the summary and left off the plot.
	Points []FrontPoint `json:"points"`
}

// FrontPoint is one trial on a compared study's front.
type FrontPoint struct {
	Trial     int     `json:"trial"`
	Accuracy  float64 `json:"accuracy"`
	LatencyMs float64 `json:"latency_ms"`
}

// Objective is one objective of a study.
type Objective struct {
	Name      string `json:"name"`      // accuracy or latency_ms
	Direction string `json:"direction"` // maximize or minimize
}

// Pick is a trial singled out by a rule, for example "best within 1% of float".
type Pick struct {
	Label string `json:"label"`
	Trial int    `json:"trial"`
}

// HistoryPoint is the state of a study after one trial.
type HistoryPoint struct {
	Trial        int     `json:"trial"`
	Hypervolume  float64 `json:"hypervolume"`
	BestAccuracy float64 `json:"best_accuracy"`
}

// Trial is one trial with its values and attributes. Accuracy, LatencyMs, PBSCount,
// MaxTLUBits and Layers matter only for complete trials.
type Trial struct {
	Number    int     `json:"number"`
	State     string  `json:"state"`
	Accuracy  float64 `json:"accuracy"`
	LatencyMs float64 `json:"latency_ms"`
	// Knobs maps a knob name to its value; a knob that is off is absent.
	Knobs map[string]float64 `json:"knobs,omitempty"`
	// OnFront is true for the trials on the study's Pareto front.
	OnFront    bool    `json:"on_front"`
	PBSCount   int     `json:"pbs_count"`
	MaxTLUBits int     `json:"max_tlu_bits"`
	Layers     []Layer `json:"layers,omitempty"`
	// Verified is the trial's run under real encryption (`fhetune study verify`), or nil.
	Verified *Verification `json:"verified,omitempty"`
	// Pruned says why a PRUNED trial's training was stopped; nil for other states (and
	// for a pruned trial whose reason is unknown).
	Pruned *Pruning `json:"pruned,omitempty"`
}

// Pruning is why a study's pruner stopped a trial's training: after Epoch, its best
// validation accuracy (ValAccuracy) was below Threshold, what Comparable trainings of
// networks costing no more had reached at that epoch (their best with the rule
// "dominated", their median with "median"). AsTrial is the trial whose training was
// judged: this one, or an earlier one with the same training whose verdict it shares.
type Pruning struct {
	Rule        string  `json:"rule"`
	Epoch       int     `json:"epoch"`
	ValAccuracy float64 `json:"val_accuracy"`
	Threshold   float64 `json:"threshold"`
	Comparable  int     `json:"comparable"`
	AsTrial     int     `json:"as_trial"`
}

// Verification is what a trial measured under real encryption: the Pareto plot marks it
// at its measured latency and encrypted accuracy, joined to the trial's modelled point.
type Verification struct {
	Samples   int     `json:"samples"`
	Accuracy  float64 `json:"accuracy"`
	LatencyMs float64 `json:"latency_ms"`
}

// Layer is one layer of a trial's circuit and its share of the latency.
type Layer struct {
	Name     string `json:"name"`
	TLUCount int    `json:"tlu_count"`
	TLUBits  int    `json:"tlu_bits"`
	// Crypto is the layer's crypto parameter set in short form, for example
	// "k=1 N=2^11 n=750 br=1x23 ks=3x4"; empty for a layer without TLUs.
	Crypto string `json:"crypto,omitempty"`
	// PBSMs is the time of one keyswitch and bootstrap with the layer's set.
	PBSMs float64 `json:"pbs_ms"`
	// LayerMs is the layer's whole time in one inference.
	LayerMs float64 `json:"layer_ms"`
	// BootstrapMs is the part of LayerMs spent in keyswitches and bootstraps; the rest
	// is levelled work. Zero for every layer of a trial means the split is unknown and
	// the breakdown shows LayerMs whole.
	BootstrapMs float64 `json:"bootstrap_ms,omitempty"`
}

// view is a validated study with the derived facts every plot needs.
type view struct {
	s          *Study
	maxAcc     bool     // accuracy is maximized (else minimized)
	minLat     bool     // latency is minimized (else maximized)
	complete   []*Trial // complete trials by number
	pruned     []*Trial // pruned trials by number
	front      []*Trial // front trials by latency, then accuracy
	byNumber   map[int]*Trial
	knobs      []string    // knobs shown, in order; each held by some complete trial
	picks      []pickGroup // picks grouped by trial, in order of first appearance
	chosen     *Trial      // trial broken down by layer; nil without complete trials
	states     []stateCount
	historyPts []HistoryPoint
	compare    []comparedFront // s.Compare in order, points sorted
}

// comparedFront is a front of s.Compare with its points by latency, then accuracy, then
// trial number.
type comparedFront struct {
	name   string
	points []FrontPoint
}

// pickGroup is the labels of all picks of one trial.
type pickGroup struct {
	trial  *Trial
	labels []string
}

// stateCount is how many trials are in one state.
type stateCount struct {
	State string
	Count int
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidStudy}, args...)...)
}

// newView validates s and derives what the plots need.
func newView(s *Study) (*view, error) {
	v := &view{s: s, maxAcc: true, minLat: true, byNumber: map[int]*Trial{}}
	if s.Name == "" {
		return nil, invalid("name is empty")
	}
	if !finite(s.FloatAccuracy) || s.FloatAccuracy < 0 || s.FloatAccuracy > 1 {
		return nil, invalid("float_accuracy %v is not in [0, 1]", s.FloatAccuracy)
	}
	seenObj := map[string]bool{}
	for i, o := range s.Objectives {
		if o.Name != ObjectiveAccuracy && o.Name != ObjectiveLatency {
			return nil, invalid("objectives[%d]: unknown name %q (want %s or %s)", i, o.Name, ObjectiveAccuracy, ObjectiveLatency)
		}
		if o.Direction != Maximize && o.Direction != Minimize {
			return nil, invalid("objectives[%d] %s: direction %q is not %s or %s", i, o.Name, o.Direction, Maximize, Minimize)
		}
		if seenObj[o.Name] {
			return nil, invalid("objectives[%d]: %s given twice", i, o.Name)
		}
		seenObj[o.Name] = true
		switch o.Name {
		case ObjectiveAccuracy:
			v.maxAcc = o.Direction == Maximize
		case ObjectiveLatency:
			v.minLat = o.Direction == Minimize
		}
	}

	states := map[string]int{}
	for i := range s.Trials {
		t := &s.Trials[i]
		if _, dup := v.byNumber[t.Number]; dup {
			return nil, invalid("trial number %d appears twice", t.Number)
		}
		v.byNumber[t.Number] = t
		if t.State == "" {
			return nil, invalid("trial %d: state is empty", t.Number)
		}
		states[t.State]++
		for name, x := range t.Knobs {
			if !finite(x) {
				return nil, invalid("trial %d: knob %s is %v", t.Number, name, x)
			}
			if labels, ok := s.KnobLabels[name]; ok {
				if i := int(x); float64(i) != x || i < 0 || i >= len(labels) {
					return nil, invalid("trial %d: knob %s is %v, not the index of one of its %d labels", t.Number, name, x, len(labels))
				}
			}
		}
		if pr := t.Pruned; pr != nil {
			if t.State != StatePruned {
				return nil, invalid("trial %d: pruned but state is %s", t.Number, t.State)
			}
			if pr.Epoch < 0 || pr.Comparable < 0 || !finite(pr.ValAccuracy) || !finite(pr.Threshold) ||
				pr.ValAccuracy < 0 || pr.ValAccuracy > 1 || pr.Threshold < 0 || pr.Threshold > 1 {
				return nil, invalid("trial %d: pruning %+v: want epoch and comparable ≥ 0, accuracies in [0, 1]", t.Number, *pr)
			}
		}
		if t.State == StatePruned {
			v.pruned = append(v.pruned, t)
		}
		if t.State != StateComplete {
			if t.OnFront {
				return nil, invalid("trial %d: on_front but state is %s", t.Number, t.State)
			}
			continue
		}
		if !finite(t.Accuracy) || t.Accuracy < 0 || t.Accuracy > 1 {
			return nil, invalid("trial %d: accuracy %v is not in [0, 1]", t.Number, t.Accuracy)
		}
		if !finite(t.LatencyMs) || t.LatencyMs <= 0 {
			return nil, invalid("trial %d: latency_ms %v is not positive", t.Number, t.LatencyMs)
		}
		if vf := t.Verified; vf != nil && (vf.Samples < 1 || !finite(vf.Accuracy) || vf.Accuracy < 0 || vf.Accuracy > 1 ||
			!finite(vf.LatencyMs) || vf.LatencyMs <= 0) {
			return nil, invalid("trial %d: verification %+v: want samples ≥ 1, accuracy in [0, 1], positive latency", t.Number, *vf)
		}
		if t.PBSCount < 0 || t.MaxTLUBits < 0 {
			return nil, invalid("trial %d: negative pbs_count %d or max_tlu_bits %d", t.Number, t.PBSCount, t.MaxTLUBits)
		}
		for j, l := range t.Layers {
			if !finite(l.PBSMs) || !finite(l.LayerMs) || !finite(l.BootstrapMs) ||
				l.PBSMs < 0 || l.LayerMs < 0 || l.BootstrapMs < 0 || l.TLUCount < 0 || l.TLUBits < 0 {
				return nil, invalid("trial %d: layer %d (%q): negative or non-finite count or time", t.Number, j, l.Name)
			}
			if l.BootstrapMs > l.LayerMs*(1+1e-9) {
				return nil, invalid("trial %d: layer %d (%q): bootstrap_ms %v exceeds layer_ms %v", t.Number, j, l.Name, l.BootstrapMs, l.LayerMs)
			}
		}
		v.complete = append(v.complete, t)
		if t.OnFront {
			v.front = append(v.front, t)
		}
	}
	slices.SortFunc(v.complete, func(a, b *Trial) int { return cmp.Compare(a.Number, b.Number) })
	slices.SortFunc(v.pruned, func(a, b *Trial) int { return cmp.Compare(a.Number, b.Number) })
	slices.SortFunc(v.front, func(a, b *Trial) int {
		return cmp.Or(cmp.Compare(a.LatencyMs, b.LatencyMs), cmp.Compare(a.Accuracy, b.Accuracy), cmp.Compare(a.Number, b.Number))
	})
	for st, n := range states {
		v.states = append(v.states, stateCount{st, n})
	}
	slices.SortFunc(v.states, func(a, b stateCount) int {
		// COMPLETE first, then by count, then by name
		return cmp.Or(-cmp.Compare(boolInt(a.State == StateComplete), boolInt(b.State == StateComplete)),
			-cmp.Compare(a.Count, b.Count), cmp.Compare(a.State, b.State))
	})
	if len(v.complete) > 0 && len(v.front) == 0 {
		return nil, invalid("%d complete trials but none is on_front", len(v.complete))
	}

	for i, p := range s.Picks {
		if p.Label == "" {
			return nil, invalid("picks[%d]: label is empty", i)
		}
		t := v.byNumber[p.Trial]
		if t == nil || t.State != StateComplete {
			return nil, invalid("pick %q: trial %d is not a complete trial", p.Label, p.Trial)
		}
		found := false
		for g := range v.picks {
			if v.picks[g].trial == t {
				v.picks[g].labels = append(v.picks[g].labels, p.Label)
				found = true
			}
		}
		if !found {
			v.picks = append(v.picks, pickGroup{trial: t, labels: []string{p.Label}})
		}
	}

	switch {
	case s.ChosenTrial != nil:
		t := v.byNumber[*s.ChosenTrial]
		if t == nil || t.State != StateComplete {
			return nil, invalid("chosen_trial %d is not a complete trial", *s.ChosenTrial)
		}
		v.chosen = t
	case len(v.picks) > 0:
		v.chosen = v.picks[0].trial
	case len(v.front) > 0:
		v.chosen = v.front[0]
		for _, t := range v.front {
			if v.better(t.Accuracy, v.chosen.Accuracy) {
				v.chosen = t
			}
		}
	}

	for i, h := range s.History {
		if !finite(h.Hypervolume) || !finite(h.BestAccuracy) {
			return nil, invalid("history[%d] (trial %d): non-finite value", i, h.Trial)
		}
	}
	v.historyPts = slices.Clone(s.History)
	slices.SortStableFunc(v.historyPts, func(a, b HistoryPoint) int { return cmp.Compare(a.Trial, b.Trial) })

	if err := v.compareFronts(); err != nil {
		return nil, err
	}

	v.knobs = v.shownKnobs()
	return v, nil
}

// compareFronts validates s.Compare and fills v.compare.
func (v *view) compareFronts() error {
	seen := map[string]bool{}
	for i, f := range v.s.Compare {
		switch {
		case f.Name == "":
			return invalid("compare[%d]: name is empty", i)
		case f.Name == v.s.Name:
			return invalid("compare[%d]: %q is the reported study itself", i, f.Name)
		case seen[f.Name]:
			return invalid("compare[%d]: study %q given twice", i, f.Name)
		}
		seen[f.Name] = true
		trials := map[int]bool{}
		for _, p := range f.Points {
			if trials[p.Trial] {
				return invalid("compare %q: trial %d appears twice", f.Name, p.Trial)
			}
			trials[p.Trial] = true
			if !finite(p.Accuracy) || p.Accuracy < 0 || p.Accuracy > 1 {
				return invalid("compare %q: trial %d: accuracy %v is not in [0, 1]", f.Name, p.Trial, p.Accuracy)
			}
			if !finite(p.LatencyMs) || p.LatencyMs <= 0 {
				return invalid("compare %q: trial %d: latency_ms %v is not positive (the latency axis is log scale)", f.Name, p.Trial, p.LatencyMs)
			}
		}
		pts := slices.Clone(f.Points)
		slices.SortFunc(pts, func(a, b FrontPoint) int {
			return cmp.Or(cmp.Compare(a.LatencyMs, b.LatencyMs), cmp.Compare(a.Accuracy, b.Accuracy), cmp.Compare(a.Trial, b.Trial))
		})
		v.compare = append(v.compare, comparedFront{name: f.Name, points: pts})
	}
	return nil
}

// knobText formats a knob's value: its label for a categorical knob, else the number.
func (v *view) knobText(name string, x float64) string {
	if labels := v.s.KnobLabels[name]; len(labels) > 0 {
		if i := int(x); float64(i) == x && i >= 0 && i < len(labels) {
			return labels[i]
		}
	}
	return formatKnob(x)
}

// better reports whether accuracy a beats b in the study's direction.
func (v *view) better(a, b float64) bool {
	if v.maxAcc {
		return a > b
	}
	return a < b
}

// shownKnobs returns the knobs to show: those listed (or, with none listed, those the
// trials have) that at least one complete trial holds.
func (v *view) shownKnobs() []string {
	held := map[string]bool{}
	for _, t := range v.complete {
		for k := range t.Knobs {
			held[k] = true
		}
	}
	var out []string
	if len(v.s.Knobs) > 0 {
		for _, k := range v.s.Knobs {
			if held[k] && !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
		return out
	}
	for _, k := range defaultKnobs {
		if held[k] {
			out = append(out, k)
			delete(held, k)
		}
	}
	var rest []string
	for k := range held {
		rest = append(rest, k)
	}
	slices.Sort(rest)
	return append(out, rest...)
}

// pickLabels returns the labels of the picks of trial t.
func (v *view) pickLabels(t *Trial) []string {
	for _, g := range v.picks {
		if g.trial == t {
			return g.labels
		}
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
