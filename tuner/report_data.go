package tuner

import (
	"encoding/json"
	"fmt"

	"github.com/fhetune/fhetune/studies"
)

// TrialResult decodes the evaluation result that Run stores with a complete trial: the
// accuracies, latency, PBS count, widest TLU and per-layer data (crypto set, times). ok
// is false for a trial without attributes (one that did not complete, or a trial of
// another tool); an error means attributes that are not a result.
func TrialResult(t studies.Trial) (res Result, ok bool, err error) {
	if len(t.Attrs) == 0 || string(t.Attrs) == "null" {
		return Result{}, false, nil
	}
	var a trialAttrs
	if err := json.Unmarshal(t.Attrs, &a); err != nil {
		return Result{}, false, fmt.Errorf("tuner: trial %d: attributes are not an evaluation result: %w", t.Number, err)
	}
	return a.Result, true, nil
}

// SearchedKnobs returns the knobs the spec's search space varies, in KnobNames order:
// those with a range of more than one value (rounding_threshold_bits with "off" counts)
// and rounding_method when it lists both methods. Knobs that are fixed, off or left to
// follow another knob are not listed.
func SearchedKnobs(s Spec) []string {
	var names []string
	for _, k := range s.Space.knobRanges() {
		r := *k.r
		if r != nil && !r.OnlyOff && !r.Empty && !r.Fixed() {
			names = append(names, k.name)
		}
		if m := s.Space.RoundingMethod; k.name == KnobRoundingThresholdBits && m != nil && len(m.Methods) > 1 {
			names = append(names, KnobRoundingMethod)
		}
	}
	return names
}
