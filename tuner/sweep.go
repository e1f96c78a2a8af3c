package tuner

import (
	"slices"
	"sort"

	"github.com/fhetune/fhetune/search"
	"github.com/fhetune/fhetune/search/pareto"
	"github.com/fhetune/fhetune/studies"
)

// Two-level search. A trial's knobs fall in two kinds: training knobs, which need a
// network of their own (pruned and fine-tuned, trained quantization-aware, quantized at
// its bit-widths), and post-training knobs (rounding_threshold_bits, rounding_method,
// p_error, global_p_error), which only change how that network is compiled and
// simulated. The runner samples a setting of every knob with the study's sampler; once
// the first trial of a new network is complete, the next trials sweep the post-training
// knobs of that network before the sampler proposes another network: a second trial for
// every network, and more, up to Spec.Sampler.Sweep trials in all, while one of the
// network's trials is on the study's Pareto front (a network that two settings leave
// dominated is not worth a third). Each trial still stores one setting of every knob, so
// export, reports and resume see ordinary trials; the attribute "network" names the
// first trial of the network a trial shares, and trials of a network already trained
// reuse it (the trained-network cache and the study's artifacts).
//
// The sweep is a Pareto local search on the network's own trials: it moves one
// post-training knob of one of the network's non-dominated trials a step (one rounding
// bit, the other rounding method, half a decade of p_error), so the network's trials
// trace its own small front, the cheapest settings that keep its accuracy. When every
// such step has been taken it draws post-training knobs from their priors.

// postTrainingKnob reports whether knob name only changes how a trained network is
// compiled and simulated.
func postTrainingKnob(name string) bool {
	switch name {
	case KnobRoundingThresholdBits, KnobRoundingMethod, KnobPError, KnobGlobalPError:
		return true
	}
	return false
}

// networkKey identifies the trained network of a trial by its stored parameters: the
// Knobs' trainingKey (a post-training trial ignores the knobs of quantization-aware
// training). It is "" for a trial without parameters.
func networkKey(ps []studies.Param) string {
	if len(ps) == 0 {
		return ""
	}
	return KnobsOf(ps, FHESpec{}).trainingKey()
}

// openNetwork returns the trials of the earliest network whose sweep is not done: it has
// a complete trial, fewer than Sweep trials that count, and either one trial or one on
// the study's front. ok is false when there is none (or the study does not sweep), so
// the sampler proposes a new network.
func (r *runner) openNetwork() (members []*trialRec, ok bool) {
	sweep := r.spec.Sampler.Sweep
	if sweep <= 1 || !r.p.space.hasPostTraining() {
		return nil, false
	}
	retried := r.retried()
	groups := map[string][]*trialRec{}
	var order []string
	for _, rec := range r.recs {
		if rec.network == "" || superseded(rec, retried) {
			continue
		}
		if _, seen := groups[rec.network]; !seen {
			order = append(order, rec.network)
		}
		groups[rec.network] = append(groups[rec.network], rec)
	}
	first := func(net string) int {
		n := -1
		for _, rec := range groups[net] {
			if n < 0 || rec.number < n {
				n = rec.number
			}
		}
		return n
	}
	sort.Slice(order, func(i, j int) bool { return first(order[i]) < first(order[j]) })
	onFront := r.globalFront()
	for _, net := range order {
		g := groups[net]
		if len(g) >= sweep {
			continue
		}
		if len(g) >= 2 && !slices.ContainsFunc(g, func(rec *trialRec) bool { return onFront[rec.number] }) {
			continue
		}
		if slices.ContainsFunc(g, func(rec *trialRec) bool { return rec.state == studies.Complete && rec.usable }) {
			sort.Slice(g, func(i, j int) bool { return g[i].number < g[j].number })
			return g, true
		}
	}
	return nil, false
}

// searchesQAT reports whether the space (resolved or not) includes quantization-aware
// training.
func (sp SpaceSpec) searchesQAT() bool {
	return sp.Training != nil && slices.Contains(sp.Training.Values, TrainingQAT)
}

// hasPostTraining reports whether the space searches a post-training knob.
func (ks knobSpace) hasPostTraining() bool {
	return slices.ContainsFunc(ks.space.Params, func(p search.Param) bool { return postTrainingKnob(p.Name) })
}

// sweepSample returns the internal values of the next trial of a network's sweep (see
// above), for trial number: a step of one post-training knob from one of the network's
// non-dominated complete trials that no trial has taken yet, chosen at random; or, when
// there is none, post-training knobs drawn from their priors.
func (r *runner) sweepSample(members []*trialRec, number int) map[string]float64 {
	var done []*trialRec
	var vals [][]float64
	for _, rec := range members {
		if rec.state == studies.Complete && rec.usable {
			done = append(done, rec)
			vals = append(vals, rec.values)
		}
	}
	rng := search.NewRand(r.spec.Seed^0x5717_ee9, number)
	var cands []map[string]float64
	for _, i := range pareto.Front(vals, r.dirs) {
		base := done[i].internal
		for _, p := range r.p.space.space.Params {
			if !postTrainingKnob(p.Name) {
				continue
			}
			for _, v := range neighbours(p, base[p.Name]) {
				c := cloneValues(base)
				c[p.Name] = v
				if !r.keys[paramsKey(r.p.space.params(c))] {
					cands = append(cands, c)
				}
			}
		}
	}
	if len(cands) > 0 {
		sort.Slice(cands, func(i, j int) bool {
			return paramsKey(r.p.space.params(cands[i])) < paramsKey(r.p.space.params(cands[j]))
		})
		return cands[rng.IntN(len(cands))]
	}
	c := cloneValues(done[0].internal)
	for try := 0; try < 16; try++ {
		for _, p := range r.p.space.space.Params {
			if postTrainingKnob(p.Name) {
				c[p.Name] = p.Uniform(rng)
			}
		}
		if !r.keys[paramsKey(r.p.space.params(c))] {
			break
		}
	}
	return c
}

// globalFront returns the numbers of the usable complete trials on the study's front.
func (r *runner) globalFront() map[int]bool {
	var nums []int
	var vals [][]float64
	for _, rec := range r.recs {
		if rec.state == studies.Complete && rec.usable {
			nums = append(nums, rec.number)
			vals = append(vals, rec.values)
		}
	}
	m := map[int]bool{}
	for _, i := range pareto.Front(vals, r.dirs) {
		m[nums[i]] = true
	}
	return m
}

// neighbours returns the values one step from v: the other choices of a categorical
// parameter, the next grid values of a discrete one, and an eighth of the range either
// side (in log scale for a log-float) of a continuous one.
func neighbours(p search.Param, v float64) []float64 {
	var out []float64
	switch n := p.Count(); {
	case p.Kind == search.Categorical:
		for k := range n {
			if float64(k) != v {
				out = append(out, float64(k))
			}
		}
	case n > 0:
		for _, d := range []float64{-1, 1} {
			if w := v + d*max(p.Step, 1); p.Contains(w) {
				out = append(out, w)
			}
		}
	default:
		u := p.ToUnit(v)
		for _, d := range []float64{-0.125, 0.125} {
			if w := p.FromUnit(u + d); w != v && u+d >= 0 && u+d <= 1 {
				out = append(out, w)
			}
		}
	}
	return out
}

func cloneValues(m map[string]float64) map[string]float64 {
	c := make(map[string]float64, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// networkOf returns the number of the first trial of the network key net among the
// known trials, or number itself when it is the first.
func (r *runner) networkOf(net string, number int) int {
	first := number
	for _, rec := range r.recs {
		if rec.network == net && rec.number < first {
			first = rec.number
		}
	}
	return first
}
