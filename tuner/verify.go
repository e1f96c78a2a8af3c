package tuner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/fhetune/fhetune/fhe"
	"github.com/fhetune/fhetune/fhe/calibration"
	"github.com/fhetune/fhetune/fhe/circuit"
	"github.com/fhetune/fhetune/fhe/executor"
	"github.com/fhetune/fhetune/studies"
	"github.com/fhetune/fhetune/tuner/model"
	"gonum.org/v1/gonum/mat"
)

// VerifyOptions sets what Verify runs. Samples must be at least 1.
type VerifyOptions struct {
	// Samples is the number of test samples run encrypted (the first of the test split).
	Samples int
	// MaxKeyMB refuses keys larger than this many MB before making them; 0: no bound.
	MaxKeyMB float64
	// Progress, if set, is called after the keys are made (done = 0) and after each
	// sample.
	Progress func(done, total int)
}

// VerifyLayer compares one layer's encrypted run with the model.
type VerifyLayer struct {
	Name       string `json:"name"`
	Bootstraps int    `json:"bootstraps"`
	// MeasuredMS is the layer's median wall time per sample, PredictedMS the latency
	// model's.
	MeasuredMS  float64 `json:"measured_ms"`
	PredictedMS float64 `json:"predicted_ms"`
	// TLUErrors counts, over all samples, the TLUs whose decrypted output differs from
	// the error-free TLU of the accumulator they received; ExpectedTLUErrors is the
	// simulation's mean count of such changed outputs on the same samples (64 seeds),
	// with the noise tfhe-go gives the chosen sets (fhe.TFHEGoNoise).
	TLUErrors         int     `json:"tlu_errors"`
	ExpectedTLUErrors float64 `json:"expected_tlu_errors"`
}

// VerifySet is one crypto set of a verified circuit: the profile's time of one
// keyswitch + bootstrap on one core, and the time measured with the circuit's keys;
// and the same with every core running one at once (the profile's ParallelMillis at the
// run's cores), when the run has more than one core.
type VerifySet struct {
	Set                 fhe.Params `json:"set"`
	PredictedMS         float64    `json:"predicted_ms"`
	MeasuredMS          float64    `json:"measured_ms"`
	PredictedAllCoresMS float64    `json:"predicted_all_cores_ms,omitempty"`
	MeasuredAllCoresMS  float64    `json:"measured_all_cores_ms,omitempty"`
}

// VerifyResult is what `fhetune verify --json` prints (the field names are a contract).
type VerifyResult struct {
	Samples int `json:"samples"`
	// EncryptedAccuracy is the accuracy of the encrypted predictions, SimulatedAccuracy
	// the simulation's on the same samples, Agreement the share of samples whose
	// encrypted prediction equals the error-free integer circuit's.
	EncryptedAccuracy float64 `json:"encrypted_accuracy"`
	SimulatedAccuracy float64 `json:"simulated_accuracy"`
	Agreement         float64 `json:"agreement"`
	// LatencyMSMeasured is the median wall time of one encrypted inference,
	// LatencyMSPredicted the model's, LatencyError (predicted − measured)/measured.
	LatencyMSMeasured  float64 `json:"latency_ms_measured"`
	LatencyMSPredicted float64 `json:"latency_ms_predicted"`
	LatencyError       float64 `json:"latency_error"`
	// SetSpeeds holds the circuit's sets timed just before each inference (one
	// keyswitch + bootstrap on one core, 3 before each inference, the median of all;
	// with more than one core, also 3 rounds' worth taken by every core at once) beside the
	// profile's times for them; LatencyMSAtSetSpeed is the latency model with
	// those measured times in place of the profile's, the prediction for the machine as
	// fast as it ran at that moment, and LatencyErrorAtSetSpeed its error against the
	// measured latency. They separate the model of the circuit (rounds over the cores,
	// extractions, keyswitches, levelled work) from the profile's per-set times, which
	// are off when the machine runs at another speed than when it was calibrated.
	SetSpeeds              []VerifySet `json:"set_speeds"`
	LatencyMSAtSetSpeed    float64     `json:"latency_ms_at_set_speed"`
	LatencyErrorAtSetSpeed float64     `json:"latency_error_at_set_speed"`
	// KeygenMS and KeyMB are the key generation time and the evaluation keys' size.
	KeygenMS float64 `json:"keygen_ms"`
	KeyMB    float64 `json:"key_mb"`
	// Bootstraps is the number of bootstraps of one inference.
	Bootstraps int `json:"bootstraps"`
	// TLUErrors and ExpectedTLUErrors sum the layers'.
	TLUErrors         int           `json:"tlu_errors"`
	ExpectedTLUErrors float64       `json:"expected_tlu_errors"`
	Layers            []VerifyLayer `json:"layers"`
	// Partial says the run was stopped before all samples; the figures are those of the
	// samples that ran.
	Partial bool `json:"partial"`
	// Cores, Calibration and Knobs are the settings of the run.
	Cores       int    `json:"cores"`
	Calibration string `json:"calibration"`
	Knobs       Knobs  `json:"knobs"`
}

// Verify compiles one knob setting as Evaluate does and runs it under real TFHE
// encryption (fhe/executor) on the first opts.Samples test samples, on the knobs' cores:
// it compares the encrypted predictions with the error-free circuit's and the
// simulation's, the measured latency with the model's, and the TLU errors seen with
// the secret keys with the errors the simulation expects. Cancelling ctx after the
// first sample stops after the current one and returns what was measured, marked
// Partial. Errors wrap ErrKnobs, ErrInfeasible, ErrTask, or executor.ErrKeysTooLarge.
func Verify(ctx context.Context, env *Env, task Task, k Knobs, opts VerifyOptions) (VerifyResult, error) {
	if opts.Samples < 1 {
		return VerifyResult{}, fmt.Errorf("%w: %d samples: want at least 1", ErrTask, opts.Samples)
	}
	if err := checkTrial(ctx, env, task, k); err != nil {
		return VerifyResult{}, err
	}
	cp, err := compileTrial(ctx, env, task, k)
	if err != nil {
		return VerifyResult{}, err
	}
	c, sol := cp.Circuit, cp.Solution
	lat, err := c.Estimate(sol, env.Timing, cp.Cores)
	if err != nil {
		return VerifyResult{}, fmt.Errorf("tuner: estimate latency: %w", err)
	}
	n := min(opts.Samples, task.Test.Len())
	keys, err := executor.GenKeys(ctx, c, sol, opts.MaxKeyMB, cp.Cores)
	if err != nil {
		return VerifyResult{}, err
	}
	res := VerifyResult{Bootstraps: c.PBSCount(), KeyMB: keys.KeyMB, KeygenMS: float64(keys.KeygenTime.Microseconds()) / 1e3,
		LatencyMSPredicted: lat.TotalMS, Cores: cp.Cores, Calibration: lat.Source, Knobs: k}
	if opts.Progress != nil {
		opts.Progress(0, n)
	}
	var total []float64
	sets := sol.Sets.Partitions
	setMS := make([][]float64, len(sets))
	setAllMS := make([][]float64, len(sets))
	perLayer := make([][]float64, len(c.Layers))
	res.Layers = make([]VerifyLayer, len(c.Layers))
	okEnc, agree := 0, 0
	for s := 0; s < n; s++ {
		if s > 0 && ctx.Err() != nil {
			res.Partial = true
			break
		}
		// Time each set alone right before the inference, so that the sets' speed is
		// that of the machine at the moment (it drifts over minutes on shared machines,
		// and not alike for all sets).
		for p, sp := range keys.PBSTimes(setSpeedRepeats) {
			setMS[p] = append(setMS[p], sp.MS)
		}
		// And on all cores at once: how much the cores slow each other down changes
		// over time as well (1.02× to 1.6× for one bootstrap on this 2-core machine).
		if cp.Cores > 1 {
			for p, sp := range keys.PBSTimesAllCores(cp.Cores, setSpeedRepeats) {
				setAllMS[p] = append(setAllMS[p], sp.MS)
			}
		}
		row := make([]float64, c.InSize())
		copy(row, cp.Test.RawRowView(s))
		out, err := keys.Run(ctx, row, cp.Cores)
		if err != nil {
			if s > 0 && errors.Is(err, ctx.Err()) {
				res.Partial = true
				break
			}
			return VerifyResult{}, fmt.Errorf("tuner: encrypted run of sample %d: %w", s, err)
		}
		res.Samples++
		if out.Prediction == task.Test.Y[s] {
			okEnc++
		}
		if out.Prediction == out.CleanPrediction {
			agree++
		}
		total = append(total, float64(out.Time.Microseconds())/1e3)
		for i, l := range out.Layers {
			perLayer[i] = append(perLayer[i], float64(l.Time.Microseconds())/1e3)
			res.Layers[i].TLUErrors += l.TLUErrors
		}
		if opts.Progress != nil {
			opts.Progress(s+1, n)
		}
	}
	if res.Samples == 0 {
		return VerifyResult{}, ctx.Err()
	}
	ratio := map[fhe.ParamsLiteral]float64{}
	parRatio := map[fhe.ParamsLiteral]float64{}
	for p, set := range sets {
		pred, ms := env.Timing.PBSMillis(set), calibration.Median(setMS[p])
		vs := VerifySet{Set: set, PredictedMS: pred, MeasuredMS: ms}
		ratio[set.Literal()] = ms / pred
		if len(setAllMS[p]) > 0 {
			vs.PredictedAllCoresMS = env.Timing.ParallelMillis(set, cp.Cores)
			vs.MeasuredAllCoresMS = calibration.Median(setAllMS[p])
			parRatio[set.Literal()] = vs.MeasuredAllCoresMS / vs.PredictedAllCoresMS
		}
		res.SetSpeeds = append(res.SetSpeeds, vs)
	}
	now, err := c.Estimate(sol, scaledTiming{env.Timing, ratio, parRatio}, cp.Cores)
	if err != nil {
		return VerifyResult{}, fmt.Errorf("tuner: estimate latency: %w", err)
	}
	res.LatencyMSAtSetSpeed = now.TotalMS
	m := res.Samples
	x := cp.Test.Slice(0, m, 0, c.InSize()).(*mat.Dense)
	// The simulated accuracy is the study's: the same samples and seed, Concrete's noise.
	sim, err := c.Simulate(x, task.Test.Y[:m], &cp.Noise, task.Seed)
	if err != nil {
		return VerifyResult{}, fmt.Errorf("%w: %w", ErrTask, err)
	}
	// The expected TLU errors are what the simulation predicts for the executor: the
	// same sets with tfhe-go's noise, the mean count of changed TLU outputs over
	// expectRuns seeds (an index moved by one often keeps its output).
	tg, err := c.NoiseOf(sol, fhe.TFHEGoNoise)
	if err != nil {
		return VerifyResult{}, fmt.Errorf("tuner: %w", err)
	}
	expected := make([]float64, c.TLULayers())
	for r := range expectRuns {
		s, err := c.Simulate(x, task.Test.Y[:m], &tg, task.Seed+uint64(r))
		if err != nil {
			return VerifyResult{}, fmt.Errorf("%w: %w", ErrTask, err)
		}
		for i, l := range s.Layers {
			expected[i] += float64(l.OutputErrors) / expectRuns
		}
	}
	res.EncryptedAccuracy = float64(okEnc) / float64(m)
	res.Agreement = float64(agree) / float64(m)
	res.SimulatedAccuracy = sim.Accuracy
	res.LatencyMSMeasured = calibration.Median(total)
	res.LatencyError = (res.LatencyMSPredicted - res.LatencyMSMeasured) / res.LatencyMSMeasured
	res.LatencyErrorAtSetSpeed = (res.LatencyMSAtSetSpeed - res.LatencyMSMeasured) / res.LatencyMSMeasured
	for i, info := range c.Layers {
		l := &res.Layers[i]
		l.Name, l.Bootstraps = info.Name, info.PBSCount()
		l.MeasuredMS, l.PredictedMS = calibration.Median(perLayer[i]), lat.Layers[i].LayerMS
		if i < c.TLULayers() {
			l.ExpectedTLUErrors = expected[i]
		}
		res.TLUErrors += l.TLUErrors
		res.ExpectedTLUErrors += l.ExpectedTLUErrors
	}
	return res, nil
}

// setSpeedRepeats is how many keyswitch + bootstraps of each set Verify times before
// each inference.
const setSpeedRepeats = 3

// expectRuns is the number of simulations whose mean gives the expected TLU errors.
const expectRuns = 64

// AttrVerified is the trial attribute that holds a trial's encrypted verification (a
// VerifyResult), written by VerifyTrial.
const AttrVerified = "verified"

// ErrNotVerifiable marks a trial that cannot be verified: no such trial, or one that is
// not complete.
var ErrNotVerifiable = errors.New("tuner: trial cannot be verified")

// VerifyTrial runs trial number of the named study encrypted (Verify with the study's
// data split, stored base model, calibration profile and the trial's knobs) and stores
// the result on the trial as the attribute AttrVerified, so that reports and exports
// show it. Nothing is stored when it fails.
func VerifyTrial(ctx context.Context, db *studies.Store, name string, number int, opts VerifyOptions) (VerifyResult, error) {
	ts, err := openTrial(ctx, db, name, number)
	if err != nil {
		return VerifyResult{}, err
	}
	t := ts.trial
	res, err := Verify(ctx, ts.env, ts.task, ts.knobs, opts)
	if err != nil {
		return VerifyResult{}, err
	}
	b, err := json.Marshal(res)
	if err != nil {
		return VerifyResult{}, err
	}
	if err := db.AnnotateTrial(context.WithoutCancel(ctx), t.ID, map[string]json.RawMessage{AttrVerified: b}); err != nil {
		return VerifyResult{}, fmt.Errorf("tuner: store the verification of trial %d: %w", number, err)
	}
	return res, nil
}

// Verified returns the encrypted verification stored on a trial, if any.
func Verified(t studies.Trial) (VerifyResult, bool) {
	var m map[string]json.RawMessage
	if len(t.Attrs) == 0 || json.Unmarshal(t.Attrs, &m) != nil || m[AttrVerified] == nil {
		return VerifyResult{}, false
	}
	var r VerifyResult
	if json.Unmarshal(m[AttrVerified], &r) != nil {
		return VerifyResult{}, false
	}
	return r, true
}

// trialSetup is what running one stored trial again needs: the study's data split with
// its stored base model, the environment of its calibration profile, and the knobs.
type trialSetup struct {
	trial studies.Trial
	env   *Env
	task  Task
	knobs Knobs
}

// openTrial loads trial number of the named study, which must be complete
// (ErrNotVerifiable otherwise), with what running it again needs.
func openTrial(ctx context.Context, db *studies.Store, name string, number int) (trialSetup, error) {
	st, err := db.Study(ctx, name)
	if err != nil {
		return trialSetup{}, err
	}
	t, err := db.TrialByNumber(ctx, st.ID, number)
	if errors.Is(err, studies.ErrNoTrial) {
		return trialSetup{}, fmt.Errorf("%w: study %q has no trial %d", ErrNotVerifiable, name, number)
	}
	if err != nil {
		return trialSetup{}, err
	}
	if t.State != studies.Complete {
		return trialSetup{}, fmt.Errorf("%w: trial %d of study %q is %s, not complete", ErrNotVerifiable, number, name, t.State)
	}
	spec, err := ResumeSpec(st)
	if err != nil {
		return trialSetup{}, err
	}
	p, err := NewPlan(spec)
	if err != nil {
		return trialSetup{}, err
	}
	base, err := p.baseModel(ctx, db, st)
	if err != nil {
		return trialSetup{}, err
	}
	pr, src, err := profile(ctx, db, st)
	if err != nil {
		return trialSetup{}, err
	}
	env, err := NewProfileEnv(pr, src, specEnvOptions(spec.FHE)...)
	if err != nil {
		return trialSetup{}, err
	}
	task := p.task
	task.Base, task.Artifacts = base, studyArtifacts{db, st.ID}
	return trialSetup{trial: t, env: env, task: task, knobs: KnobsOf(t.Params, spec.FHE)}, nil
}

// TrialNetwork returns the network trial number of the named study tuned: the study's
// base model pruned and fine-tuned with the trial's knobs, and trained
// quantization-aware when its training is qat (its quant layers then fix the circuit's
// quantizers), exactly as the trial compiled it (the same seeds), for export.
func TrialNetwork(ctx context.Context, db *studies.Store, name string, number int) (*model.Network, Knobs, error) {
	ts, err := openTrial(ctx, db, name, number)
	if err != nil {
		return nil, Knobs{}, err
	}
	net, err := ts.env.trained.get(ctx, ts.task, ts.knobs)
	if err != nil {
		return nil, Knobs{}, err
	}
	return net.Clone(), ts.knobs, nil
}

// scaledTiming is a Timing whose bootstrap and keyswitch times are scaled per set by
// ratio (measured over predicted on one core; 1 for a set not in it), and whose times
// with more than one core busy by parRatio (measured over predicted on all cores; ratio
// for a set not in it): the latency model at the speed the sets were measured at.
// Levelled work is left as the profile prices it.
type scaledTiming struct {
	circuit.Timing
	ratio, parRatio map[fhe.ParamsLiteral]float64
}

func (t scaledTiming) r(p fhe.Params) float64 {
	if v, ok := t.ratio[p.Literal()]; ok {
		return v
	}
	return 1
}

func (t scaledTiming) PBSMillis(p fhe.Params) float64 { return t.r(p) * t.Timing.PBSMillis(p) }

func (t scaledTiming) BootstrapMillis(p fhe.Params) float64 {
	return t.r(p) * t.Timing.BootstrapMillis(p)
}

func (t scaledTiming) ParallelMillis(p fhe.Params, k int) float64 {
	if v, ok := t.parRatio[p.Literal()]; ok && k > 1 {
		return v * t.Timing.ParallelMillis(p, k)
	}
	return t.r(p) * t.Timing.ParallelMillis(p, k)
}

func (t scaledTiming) KeySwitchMillis(from, to fhe.Params, level int) float64 {
	return t.r(from) * t.Timing.KeySwitchMillis(from, to, level)
}
