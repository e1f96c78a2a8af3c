package tuner

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/fhetune/fhetune/fhe"
	"github.com/fhetune/fhetune/fhe/circuit"
	"github.com/fhetune/fhetune/search"
	"github.com/fhetune/fhetune/studies"
)

// Knob names, as Concrete ML spells them.
const (
	KnobNWBits                = "n_w_bits"
	KnobNABits                = "n_a_bits"
	KnobNInputBits            = "n_input_bits"
	KnobPruning               = "pruning"
	KnobSparsity              = "sparsity"
	KnobRoundingThresholdBits = "rounding_threshold_bits"
	KnobRoundingMethod        = "rounding_method"
	KnobPError                = "p_error"
	KnobGlobalPError          = "global_p_error"
	KnobTraining              = "training"
	KnobQATEpochs             = "qat_epochs"
	KnobNAccumBits            = "n_accum_bits"
	KnobPowerOfTwoScaling     = "power_of_two_scaling"
)

// KnobNames lists the knobs in the order studies show them.
func KnobNames() []string {
	return []string{KnobNWBits, KnobNABits, KnobNInputBits, KnobPruning, KnobSparsity, KnobRoundingThresholdBits,
		KnobRoundingMethod, KnobPError, KnobGlobalPError, KnobTraining, KnobQATEpochs, KnobNAccumBits, KnobPowerOfTwoScaling}
}

// Rounding methods, the values of rounding_method (Concrete ML's Exactness, lower case).
const (
	// RoundingExact removes the rounded bits one bit-extraction bootstrap at a time, so
	// the TLU sees the exactly rounded accumulator (Concrete ML's default).
	RoundingExact = "exact"
	// RoundingApproximate removes no bit with a bootstrap: the TLU reads the accumulator's
	// most significant bits directly, off by one near rounding boundaries.
	RoundingApproximate = "approximate"
)

// RoundingMethods lists the rounding methods in the order trials store them: a trial's
// rounding_method parameter is the method's index (0 exact, 1 approximate).
func RoundingMethods() []string { return []string{RoundingExact, RoundingApproximate} }

// KnobChoices returns the names of a categorical knob's values, indexed by the value a
// trial stores (rounding_method: exact, approximate; training: ptq, qat;
// power_of_two_scaling: false, true), and nil for a numeric knob.
func KnobChoices(name string) []string {
	switch name {
	case KnobRoundingMethod:
		return RoundingMethods()
	case KnobTraining:
		return []string{TrainingPTQ, TrainingQAT}
	case KnobPowerOfTwoScaling:
		return []string{"false", "true"}
	}
	return nil
}

// KnobLabel returns the name of a categorical knob's stored value ("approximate" for
// rounding_method 1), and false for a numeric knob or a value that names no choice.
func KnobLabel(name string, v float64) (string, bool) {
	cs := KnobChoices(name)
	if i := int(v); float64(i) == v && i >= 0 && i < len(cs) {
		return cs[i], true
	}
	return "", false
}

// methodName returns the rounding method a stored rounding_method value names; a value
// that names none is returned as a number, which Knobs.Check refuses.
func methodName(v float64) string {
	if m, ok := KnobLabel(KnobRoundingMethod, v); ok {
		return m
	}
	return fmtNum(v)
}

// knobKind says how a knob's range is checked and searched.
type knobKind int

const (
	bitsKnob     knobKind = iota + 1 // integer bit-width in circuit.MinBits..MaxBits
	roundingKnob                     // rounding_threshold_bits: circuit.MinRoundingBits..MaxRoundingBits, or off
	shareKnob                        // share in [0, 1), uniform
	probKnob                         // probability in (0, 1), log-uniform
	epochsKnob                       // qat_epochs: whole number ≥ 1
	accumKnob                        // n_accum_bits: whole number in 2..62
)

func securityLevels() []int { return fhe.SecurityLevels() }

// knobRanges returns each knob's name, kind and range pointer in the spec, in KnobNames
// order.
func (sp *SpaceSpec) knobRanges() []struct {
	name string
	kind knobKind
	r    **Range
} {
	return []struct {
		name string
		kind knobKind
		r    **Range
	}{
		{KnobNWBits, bitsKnob, &sp.NWBits},
		{KnobNABits, bitsKnob, &sp.NABits},
		{KnobNInputBits, bitsKnob, &sp.NInputBits},
		{KnobPruning, shareKnob, &sp.Pruning},
		{KnobSparsity, shareKnob, &sp.Sparsity},
		{KnobRoundingThresholdBits, roundingKnob, &sp.RoundingThresholdBits},
		{KnobPError, probKnob, &sp.PError},
		{KnobGlobalPError, probKnob, &sp.GlobalPError},
		{KnobQATEpochs, epochsKnob, &sp.QATEpochs},
		{KnobNAccumBits, accumKnob, &sp.NAccumBits},
	}
}

// choiceKnobs returns the categorical knobs of the spec other than rounding_method,
// with their choice pointers.
func (sp *SpaceSpec) choiceKnobs() []struct {
	name string
	c    **Choices
} {
	return []struct {
		name string
		c    **Choices
	}{{KnobTraining, &sp.Training}, {KnobPowerOfTwoScaling, &sp.PowerOfTwoScaling}}
}

// resolveSpace fills the default ranges in and checks every range.
func (r *Spec) resolveSpace() error {
	sp := &r.Space
	if sp.PError != nil && sp.GlobalPError != nil {
		return r.errf("space.global_p_error", "give p_error or global_p_error, not both")
	}
	defaults := map[string]*Range{
		KnobNWBits:                {Low: 2, High: 8},
		KnobNABits:                {Low: 2, High: 8},
		KnobPruning:               {Low: 0, High: 0.7},
		KnobSparsity:              {Low: 0, High: 0},
		KnobRoundingThresholdBits: {Low: 3, High: 8, Off: true},
	}
	if sp.GlobalPError == nil {
		defaults[KnobPError] = &Range{Low: 1e-5, High: 0.1}
	}
	if err := r.resolveRoundingMethod(); err != nil {
		return err
	}
	if err := r.resolveChoices(); err != nil {
		return err
	}
	for _, k := range sp.knobRanges() {
		if *k.r == nil {
			if d, ok := defaults[k.name]; ok {
				c := *d
				*k.r = &c
			}
			continue
		}
		c := **k.r
		*k.r = &c
		if err := checkRange(k.name, k.kind, &c); err != nil {
			field := "space." + k.name
			if c.Line > 0 {
				return &SpecError{File: r.file, Line: c.Line, Field: field, Why: err.Error()}
			}
			return r.errf(field, "%s", err)
		}
		c.Line = 0
	}
	if m, rt := sp.RoundingMethod, sp.RoundingThresholdBits; !m.Fixed() && rt != nil && rt.OnlyOff {
		return r.errf("space."+KnobRoundingMethod, "%s: searching the rounding method does nothing with rounding_threshold_bits off", m)
	}
	return nil
}

// resolveChoices checks training and power_of_two_scaling, and that the knobs of
// quantization-aware training come with training qat.
func (r *Spec) resolveChoices() error {
	sp := &r.Space
	for _, k := range sp.choiceKnobs() {
		if *k.c == nil {
			continue
		}
		c := **k.c
		vals, err := resolveChoices(k.name, c.Values)
		if err != nil {
			field := "space." + k.name
			if c.Line > 0 {
				return &SpecError{File: r.file, Line: c.Line, Field: field, Why: err.Error()}
			}
			return r.errf(field, "%s", err)
		}
		*k.c = &Choices{Values: vals}
	}
	if t := sp.Training; t == nil || !slices.Contains(t.Values, TrainingQAT) {
		for _, k := range []struct {
			name string
			set  bool
		}{{KnobQATEpochs, sp.QATEpochs != nil}, {KnobNAccumBits, sp.NAccumBits != nil}, {KnobPowerOfTwoScaling, sp.PowerOfTwoScaling != nil}} {
			if k.set {
				return r.errf("space."+k.name, "needs training qat in the space (quantization-aware training)")
			}
		}
	}
	return nil
}

// resolveRoundingMethod checks space.rounding_method and the method of
// rounding_threshold_bits' dict form, which must agree; the method moves to
// space.rounding_method (default: both, or exact when rounding is off), and the range
// keeps none.
func (r *Spec) resolveRoundingMethod() error {
	sp := &r.Space
	var m MethodChoice
	if sp.RoundingMethod != nil {
		m = *sp.RoundingMethod
		m.Methods = slices.Clone(m.Methods)
		methods, err := resolveMethods(m.Methods)
		if err != nil {
			field := "space." + KnobRoundingMethod
			if m.Line > 0 {
				return &SpecError{File: r.file, Line: m.Line, Field: field, Why: err.Error()}
			}
			return r.errf(field, "%s", err)
		}
		m.Methods, m.Line = methods, 0
	}
	if rt := sp.RoundingThresholdBits; rt != nil && rt.Method != "" {
		field := "space." + KnobRoundingThresholdBits + ".method"
		methods, err := resolveMethods([]string{rt.Method})
		if err != nil {
			return r.errf(field, "%s", err)
		}
		if sp.RoundingMethod != nil && !slices.Equal(m.Methods, methods) {
			return r.errf(field, "%s conflicts with space.%s %s: give the method once", methods[0], KnobRoundingMethod, m)
		}
		m.Methods = methods
		c := *rt
		c.Method = ""
		sp.RoundingThresholdBits = &c
	}
	if len(m.Methods) == 0 {
		// By default both methods are searched: they trade bootstraps for off-by-one
		// errors, so neither dominates; with rounding off there is nothing to choose.
		m.Methods = RoundingMethods()
		if rt := sp.RoundingThresholdBits; rt != nil && rt.OnlyOff {
			m.Methods = []string{RoundingExact}
		}
	}
	sp.RoundingMethod = &m
	return nil
}

func checkRange(name string, kind knobKind, r *Range) error {
	switch {
	case r.Empty:
		return fmt.Errorf("empty range []: want a value, [low, high]%s", map[bool]string{true: " or off", false: ""}[name == KnobRoundingThresholdBits])
	case (r.OnlyOff || r.Off) && name != KnobRoundingThresholdBits:
		return fmt.Errorf("only rounding_threshold_bits can be off")
	case r.Method != "" && name != KnobRoundingThresholdBits:
		return fmt.Errorf("only rounding_threshold_bits takes a method")
	case r.OnlyOff:
		return nil
	case r.Low > r.High:
		return fmt.Errorf("[%s, %s]: low above high", fmtNum(r.Low), fmtNum(r.High))
	case r.Step < 0:
		return fmt.Errorf("step %s: want 0 or more", fmtNum(r.Step))
	}
	switch kind {
	case bitsKnob:
		if r.Low != math.Trunc(r.Low) || r.High != math.Trunc(r.High) || r.Step != math.Trunc(r.Step) {
			return fmt.Errorf("%s: bit-widths are whole numbers", r)
		}
		if r.Low < circuit.MinBits || r.High > circuit.MaxBits {
			return fmt.Errorf("%s: bit-widths must lie in %d..%d", r, circuit.MinBits, circuit.MaxBits)
		}
	case roundingKnob:
		// Concrete ML refuses other values (common/utils.py, process_rounding_threshold_bits).
		if r.Low != math.Trunc(r.Low) || r.High != math.Trunc(r.High) || r.Step != math.Trunc(r.Step) {
			return fmt.Errorf("%s: bit-widths are whole numbers", r)
		}
		for _, v := range []float64{r.Low, r.High} {
			if v < circuit.MinRoundingBits || v > circuit.MaxRoundingBits {
				msg := fmt.Sprintf("%s is outside %d..%d, the range Concrete ML accepts (or off)",
					fmtNum(v), circuit.MinRoundingBits, circuit.MaxRoundingBits)
				if !r.Fixed() {
					msg = r.String() + ": " + msg
				}
				return errors.New(msg)
			}
		}
	case shareKnob:
		if !(r.Low >= 0 && r.High < 1) {
			return fmt.Errorf("%s: a share must lie in [0, 1)", r)
		}
	case epochsKnob, accumKnob:
		lo, hi := 1.0, 1e9
		if kind == accumKnob {
			lo, hi = 2, 62
		}
		if r.Low != math.Trunc(r.Low) || r.High != math.Trunc(r.High) || r.Step != math.Trunc(r.Step) {
			return fmt.Errorf("%s: %s takes whole numbers", r, name)
		}
		if r.Low < lo || r.High > hi {
			return fmt.Errorf("%s: %s must lie in %s..%s", r, name, fmtNum(lo), fmtNum(hi))
		}
	case probKnob:
		if !(r.Low > 0 && r.High < 1) {
			return fmt.Errorf("%s: a probability must lie in (0, 1)", r)
		}
		if r.Step != 0 {
			return fmt.Errorf("%s is searched in log scale and takes no step", name)
		}
	}
	if r.Step > 0 && r.Low == r.High {
		r.Step = 0
	}
	return nil
}

// knobSpace is a resolved spec's search space: the searched knobs as a search.Space and
// the fixed ones as constants. Stored trial parameters hold knob values as Concrete ML
// takes them (rounding_threshold_bits 0 means no rounding); the search space holds
// internal values, which differ only for a rounding range with "off": off is the
// integer just above the range, so that samplers see it as the widest setting.
type knobSpace struct {
	space search.Space
	fixed map[string]float64 // knobs not searched, by name (rounding off: 0)
	// roundOff is the internal value that means "no rounding" (0 when off is not a
	// choice of a searched rounding knob).
	roundOff float64
	fhe      FHESpec
}

// compileSpace builds the search space of a resolved spec.
func compileSpace(s Spec) (knobSpace, error) {
	ks := knobSpace{fixed: map[string]float64{}, fhe: s.FHE}
	for _, k := range s.Space.knobRanges() {
		if r := *k.r; r != nil {
			ks.addRange(k.name, k.kind, *r)
		}
		if k.name == KnobRoundingThresholdBits {
			ks.addMethods(s.Space.RoundingMethod)
		}
	}
	for _, k := range s.Space.choiceKnobs() {
		if c := *k.c; c != nil {
			ks.addChoices(k.name, c.Values)
		}
	}
	if len(ks.space.Params) == 0 {
		return ks, &SpecError{File: s.file, Field: "space", Why: "every knob is fixed: nothing to search"}
	}
	if err := ks.space.Validate(); err != nil {
		return ks, &SpecError{File: s.file, Field: "space", Why: err.Error()}
	}
	return ks, nil
}

// addRange adds a knob of a checked range: fixed, or a parameter of the space.
func (ks *knobSpace) addRange(name string, kind knobKind, r Range) {
	switch {
	case r.OnlyOff:
		ks.fixed[name] = 0
		return
	case r.Fixed():
		ks.fixed[name] = r.Low
		return
	}
	p := search.Param{Name: name, Low: r.Low, High: r.High, Step: r.Step}
	switch kind {
	case bitsKnob, roundingKnob, epochsKnob, accumKnob:
		p.Kind = search.Int
		if r.Off {
			step := max(1, r.Step)
			p.High = r.Low + step*(math.Floor((r.High-r.Low)/step)+1)
			ks.roundOff = p.High
		}
	case shareKnob:
		p.Kind = search.Float
	case probKnob:
		p.Kind = search.LogFloat
	}
	ks.space.Params = append(ks.space.Params, p)
}

// addMethods adds rounding_method: fixed (nil means exact), or a categorical parameter
// whose choices are in RoundingMethods order, so that its internal value is the value
// trials store.
func (ks *knobSpace) addMethods(m *MethodChoice) {
	methods := []string{RoundingExact}
	if m != nil && len(m.Methods) > 0 {
		methods = m.Methods
	}
	if len(methods) == 1 {
		ks.fixed[KnobRoundingMethod] = float64(slices.Index(RoundingMethods(), methods[0]))
		return
	}
	ks.space.Params = append(ks.space.Params, search.Param{Name: KnobRoundingMethod, Kind: search.Categorical,
		Choices: slices.Clone(methods)})
}

// addChoices adds a categorical knob: fixed, or a parameter whose choices are in
// KnobChoices order, so that its internal value is the value trials store.
func (ks *knobSpace) addChoices(name string, values []string) {
	if len(values) == 1 {
		ks.fixed[name] = float64(slices.Index(KnobChoices(name), values[0]))
		return
	}
	ks.space.Params = append(ks.space.Params, search.Param{Name: name, Kind: search.Categorical, Choices: slices.Clone(values)})
}

// toKnob maps a searched knob's internal value to its knob value.
func (ks knobSpace) toKnob(name string, v float64) float64 {
	if name == KnobRoundingThresholdBits && ks.roundOff != 0 && v == ks.roundOff {
		return 0
	}
	return v
}

// toInternal maps a knob value to the searched knob's internal value.
func (ks knobSpace) toInternal(name string, v float64) float64 {
	if name == KnobRoundingThresholdBits && ks.roundOff != 0 && v == 0 {
		return ks.roundOff
	}
	return v
}

// params turns sampled internal values into the stored parameters of a trial: every
// searched knob, then every fixed one, as knob values.
func (ks knobSpace) params(values map[string]float64) []studies.Param {
	var ps []studies.Param
	for _, p := range ks.space.Params {
		ps = append(ps, studies.Param{Name: p.Name, Value: ks.toKnob(p.Name, values[p.Name]), Distribution: ks.distribution(p)})
	}
	for _, name := range KnobNames() {
		if v, ok := ks.fixed[name]; ok {
			ps = append(ps, studies.Param{Name: name, Value: v, Distribution: json.RawMessage(`{"kind":"fixed"}`)})
		}
	}
	return ps
}

// distribution describes a searched knob in a trial's stored parameters.
func (ks knobSpace) distribution(p search.Param) json.RawMessage {
	if p.Kind == search.Categorical {
		b, _ := json.Marshal(struct {
			Kind    string   `json:"kind"`
			Choices []string `json:"choices"`
		}{p.Kind.String(), p.Choices})
		return b
	}
	d := struct {
		Kind string  `json:"kind"`
		Low  float64 `json:"low"`
		High float64 `json:"high"`
		Step float64 `json:"step,omitempty"`
		Off  bool    `json:"off,omitempty"`
	}{Kind: p.Kind.String(), Low: p.Low, High: p.High, Step: p.Step}
	if p.Name == KnobRoundingThresholdBits && ks.roundOff != 0 {
		d.High, d.Off = ks.roundOff-max(1, p.Step), true
	}
	b, _ := json.Marshal(d)
	return b
}

// internal returns the search-space values of stored parameters, and whether every
// searched knob is there with a value of the space.
func (ks knobSpace) internal(ps []studies.Param) (map[string]float64, bool) {
	m := make(map[string]float64, len(ks.space.Params))
	for _, p := range ps {
		if sp, ok := ks.space.Lookup(p.Name); ok {
			v := ks.toInternal(p.Name, p.Value)
			if !sp.Contains(v) {
				return nil, false
			}
			m[p.Name] = v
		}
	}
	return m, len(m) == len(ks.space.Params)
}

// KnobApplies reports whether knob name matters to a trial whose knob values (by name)
// are knobs: the knobs of quantization-aware training (qat_epochs, n_accum_bits,
// power_of_two_scaling) do not to a post-training trial of a space that searches both
// trainings, though the sampler drew them.
func KnobApplies(name string, knobs map[string]float64) bool {
	switch name {
	case KnobQATEpochs, KnobNAccumBits, KnobPowerOfTwoScaling:
		t, ok := knobs[KnobTraining]
		return !ok || t == 1 // 1: qat (KnobChoices)
	}
	return true
}

// KnobValues returns a trial's knob values by name from its stored parameters; a
// rounding_threshold_bits of 0 (no rounding) is left out, as the report expects, and so
// are knobs that do not apply to the trial ([KnobApplies]).
// rounding_method is its index in RoundingMethods (see KnobLabel); a trial stored
// before that knob existed rounds exactly, so it gets 0.
func KnobValues(ps []studies.Param) map[string]float64 {
	m := map[string]float64{}
	for _, p := range ps {
		if !slices.Contains(KnobNames(), p.Name) {
			continue
		}
		if p.Name == KnobRoundingThresholdBits && p.Value == 0 {
			continue
		}
		m[p.Name] = p.Value
	}
	if _, ok := m[KnobRoundingMethod]; !ok && len(m) > 0 {
		m[KnobRoundingMethod] = 0
	}
	for name := range m {
		if !KnobApplies(name, m) {
			delete(m, name)
		}
	}
	return m
}

// KnobsOf returns the Knobs of a trial's stored parameters with the spec's FHE settings.
// A trial without rounding_method (stored before the knob existed) rounds exactly.
func KnobsOf(ps []studies.Param, f FHESpec) Knobs {
	k := Knobs{Cores: f.Cores, Strategy: f.Strategy, Security: f.Security}
	for _, p := range ps {
		switch p.Name {
		case KnobNWBits:
			k.NWBits = int(p.Value)
		case KnobNABits:
			k.NABits = int(p.Value)
		case KnobNInputBits:
			k.NInputBits = int(p.Value)
		case KnobPruning:
			k.Pruning = p.Value
		case KnobSparsity:
			k.Sparsity = p.Value
		case KnobRoundingThresholdBits:
			k.RoundingThresholdBits = int(p.Value)
		case KnobRoundingMethod:
			k.RoundingMethod = methodName(p.Value)
		case KnobPError:
			k.PError = p.Value
		case KnobGlobalPError:
			k.GlobalPError = p.Value
		case KnobTraining:
			k.Training, _ = KnobLabel(KnobTraining, p.Value)
		case KnobQATEpochs:
			k.QATEpochs = int(p.Value)
		case KnobNAccumBits:
			k.NAccumBits = int(p.Value)
		case KnobPowerOfTwoScaling:
			k.PowerOfTwoScaling = p.Value == 1
		}
	}
	if !k.qat() {
		// A post-training trial of a space that also searches quantization-aware
		// training ignores that training's knobs.
		k.Training, k.QATEpochs, k.NAccumBits, k.PowerOfTwoScaling = "", 0, 0, false
	}
	return k
}
