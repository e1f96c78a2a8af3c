package tuner

import (
	"github.com/fhetune/fhetune/search"
	"github.com/fhetune/fhetune/studies"
)

// measure is one value of a Result that a study can optimize.
type measure struct {
	name      string
	direction string // natural direction
	value     func(Result) float64
}

// measures lists the values a study can optimize, in the order Objectives gives them.
func measures() []measure {
	return []measure{
		{"accuracy", "maximize", func(r Result) float64 { return r.Accuracy }},
		{"latency_ms", "minimize", func(r Result) float64 { return r.LatencyMS }},
		{"quantized_accuracy", "maximize", func(r Result) float64 { return r.QuantizedAccuracy }},
		{"pbs_count", "minimize", func(r Result) float64 { return float64(r.PBSCount) }},
		{"max_tlu_bits", "minimize", func(r Result) float64 { return float64(r.MaxTLUBits) }},
		{"bootstrap_key_mb", "minimize", func(r Result) float64 { return r.BootstrapKeyMB }},
		{"keyswitch_key_mb", "minimize", func(r Result) float64 { return r.KeySwitchKeyMB }},
	}
}

// Objectives lists the names a study spec may use as objectives: accuracy and
// latency_ms (the defaults), quantized_accuracy (without TLU errors), pbs_count,
// max_tlu_bits, bootstrap_key_mb and keyswitch_key_mb.
func Objectives() []string {
	var names []string
	for _, m := range measures() {
		names = append(names, m.name)
	}
	return names
}

func lookupMeasure(name string) (measure, bool) {
	for _, m := range measures() {
		if m.name == name {
			return m, true
		}
	}
	return measure{}, false
}

// studyObjectives returns the store's form of the spec's objectives.
func (s Spec) studyObjectives() []studies.Objective {
	objs := make([]studies.Objective, len(s.Objectives))
	for i, o := range s.Objectives {
		objs[i] = studies.Objective{Name: o.Name, Direction: studies.Direction(o.Direction)}
	}
	return objs
}

// directions returns the search form of the spec's objective directions.
func (s Spec) directions() []search.Direction {
	dirs := make([]search.Direction, len(s.Objectives))
	for i, o := range s.Objectives {
		if o.Direction == "maximize" {
			dirs[i] = search.Maximize
		}
	}
	return dirs
}

// values returns a result's value of each objective of the spec.
func (s Spec) values(r Result) []float64 {
	vs := make([]float64, len(s.Objectives))
	for i, o := range s.Objectives {
		m, _ := lookupMeasure(o.Name)
		vs[i] = m.value(r)
	}
	return vs
}

// constraints returns the constraint values of a result (≤ 0 when satisfied; nil when
// the spec has no constraint): accuracy drop from floatAcc minus max_accuracy_drop, and
// latency_ms minus max_latency_ms.
func (s Spec) constraints(r Result, floatAcc float64) []float64 {
	var cs []float64
	if d := s.Constraint.MaxAccuracyDrop; d != nil {
		cs = append(cs, (floatAcc-r.Accuracy)-*d)
	}
	if t := s.Constraint.MaxLatencyMS; t != nil {
		cs = append(cs, r.LatencyMS-*t)
	}
	return cs
}
