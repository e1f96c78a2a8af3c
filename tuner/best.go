package tuner

import (
	"fmt"
	"math"
	"strconv"

	"github.com/fhetune/fhetune/studies"
)

// Rule picks one trial of a study, the way a user asks "what is the fastest
// configuration within 1% of float accuracy?".
type Rule struct {
	// MaxAccuracyDrop: the fastest trial whose accuracy is at most this share below the
	// float model's (ties: the more accurate, then the lower number).
	MaxAccuracyDrop *float64
	// MaxLatencyMS: the most accurate trial whose latency_ms is at most this (ties: the
	// faster, then the lower number). With both bounds: the fastest trial meeting both.
	MaxLatencyMS *float64
}

// DefaultMaxAccuracyDrop is the accuracy drop of the default rule: within 1% of float.
const DefaultMaxAccuracyDrop = 0.01

// DefaultRule returns the rule of a study's spec constraint, or else the fastest trial
// within 1% of float accuracy.
func DefaultRule(s Spec) Rule {
	r := Rule{MaxAccuracyDrop: s.Constraint.MaxAccuracyDrop, MaxLatencyMS: s.Constraint.MaxLatencyMS}
	if r.MaxAccuracyDrop == nil && r.MaxLatencyMS == nil {
		d := DefaultMaxAccuracyDrop
		r.MaxAccuracyDrop = &d
	}
	return r
}

// String describes the rule: "fastest trial within 1% of float accuracy".
func (r Rule) String() string {
	pct := func(v float64) string { return strconv.FormatFloat(100*v, 'g', 4, 64) + "%" }
	switch {
	case r.MaxAccuracyDrop != nil && r.MaxLatencyMS != nil:
		return fmt.Sprintf("fastest trial within %s of float accuracy and %s ms", pct(*r.MaxAccuracyDrop), fmtNum(*r.MaxLatencyMS))
	case r.MaxAccuracyDrop != nil:
		return fmt.Sprintf("fastest trial within %s of float accuracy", pct(*r.MaxAccuracyDrop))
	case r.MaxLatencyMS != nil:
		return fmt.Sprintf("most accurate trial within %s ms", fmtNum(*r.MaxLatencyMS))
	}
	return "most accurate trial"
}

// Best returns the complete trial the rule picks among trials of a study with the given
// objectives (which must include accuracy and latency_ms) and float accuracy. It fails
// with ErrNoPick, saying how close the study came, when no trial meets the rule.
func Best(trials []studies.Trial, objs []studies.Objective, floatAcc float64, r Rule) (studies.Trial, error) {
	ia, il := -1, -1
	for i, o := range objs {
		switch o.Name {
		case "accuracy":
			ia = i
		case "latency_ms":
			il = i
		}
	}
	if ia < 0 || il < 0 {
		return studies.Trial{}, fmt.Errorf("%w: the study does not have both accuracy and latency_ms objectives", ErrNoPick)
	}
	var (
		best      studies.Trial
		found     bool
		closest   = math.Inf(1)
		closestAt = -1
	)
	// less orders candidates: the fastest first when the accuracy drop is bounded, else
	// the most accurate first; then the lower trial number.
	less := func(t, b studies.Trial) bool {
		a, l, ba, bl := t.Values[ia], t.Values[il], b.Values[ia], b.Values[il]
		if r.MaxAccuracyDrop != nil {
			if l != bl {
				return l < bl
			}
			if a != ba {
				return a > ba
			}
		} else {
			if a != ba {
				return a > ba
			}
			if l != bl {
				return l < bl
			}
		}
		return t.Number < b.Number
	}
	for _, t := range trials {
		if !usable(t, len(objs)) {
			continue
		}
		a, l := t.Values[ia], t.Values[il]
		miss := 0.0
		if r.MaxAccuracyDrop != nil {
			miss = math.Max(miss, (floatAcc-a)-*r.MaxAccuracyDrop)
		}
		if r.MaxLatencyMS != nil {
			miss = math.Max(miss, (l-*r.MaxLatencyMS) / *r.MaxLatencyMS)
		}
		if miss > 1e-12 { // a drop equal to the bound, up to rounding, meets it
			if miss < closest {
				closest, closestAt = miss, t.Number
			}
			continue
		}
		if !found || less(t, best) {
			best, found = t, true
		}
	}
	if found {
		return best, nil
	}
	if closestAt < 0 {
		return studies.Trial{}, fmt.Errorf("%w: no complete trial yet", ErrNoPick)
	}
	return studies.Trial{}, fmt.Errorf("%w: no complete trial is the %s (closest: trial %d)", ErrNoPick, r, closestAt)
}

// Pick is a trial singled out by a rule, for reports.
type Pick struct {
	Label string
	Trial studies.Trial
}

// DefaultPicks returns the trials a report labels: the study's default rule, the
// fastest within 5% of float accuracy, and the most accurate trial, leaving out rules no
// trial meets and trials picked already.
func DefaultPicks(s Spec, trials []studies.Trial, objs []studies.Objective, floatAcc float64) []Pick {
	five := 0.05
	rules := []Rule{DefaultRule(s), {MaxAccuracyDrop: &five}, {}}
	var picks []Pick
	seen := map[int]bool{}
	for _, r := range rules {
		t, err := Best(trials, objs, floatAcc, r)
		if err != nil || seen[t.Number] {
			continue
		}
		seen[t.Number] = true
		picks = append(picks, Pick{Label: r.String(), Trial: t})
	}
	return picks
}
