package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/fhetune/fhetune/studies"
	"github.com/fhetune/fhetune/tuner"
)

// studySpecFlags are the flags of `study start` that override the spec.
type studySpecFlags struct {
	spec                                string
	name, dataset, dataDir, labelColumn string
	model, modelFile                    string
	epochs, fineTune                    int
	trainSeed                           uint64
	ranges                              map[string]*string // knob → range text
	objectives                          string
	maxDrop, maxLatency                 float64
	sampler, pruner                     string
	population, sweep                   int
	trials, workers                     int
	timeout                             time.Duration
	seed                                int64
	security, cores                     int
	strategy, cost                      string
	run                                 studyRunFlags
}

// studyRunFlags are the flags that say how this process runs a study (start and resume).
type studyRunFlags struct {
	heartbeat, staleAfter time.Duration
	asJSON                bool
}

func (f *studyRunFlags) register(fl *pflag.FlagSet) {
	fl.DurationVar(&f.staleAfter, "stale-after", tuner.DefaultStaleAfter,
		"reap RUNNING trials of other processes without a heartbeat for this long")
	fl.DurationVar(&f.heartbeat, "heartbeat", tuner.DefaultHeartbeat, "how often a running trial records a heartbeat")
	_ = fl.MarkHidden("heartbeat")
	fl.BoolVar(&f.asJSON, "json", false, "print one JSON document (the outcome and the Pareto front) on stdout")
}

func newStudyStartCmd(a *app) *cobra.Command {
	f := &studySpecFlags{ranges: map[string]*string{}}
	c := &cobra.Command{
		Use:   "start [--spec FILE] [flags]",
		Short: "Run a study: sweep the knobs and find the accuracy/latency Pareto front",
		Long: `start runs a study: it trains the base model once (kept in the database), then runs
trials, each a setting of the knobs (n_w_bits, n_a_bits, pruning, rounding_threshold_bits,
p_error, ...) whose accuracy comes from an exact simulation of the encrypted model and whose
latency from the calibrated cost model, until the study has its number of trials. It shows
progress on stderr and ends with the Pareto front and the command for the report.

Without --spec it runs the built-in default study: digits, the default MLP, n_w_bits,
n_a_bits and n_input_bits 2..8, pruning 0..0.7, rounding_threshold_bits 3..8 or off
(rounding method exact or approximate, both searched), p_error 1e-5..0.1, training ptq or
qat (quantization-aware, with power_of_two_scaling false or true), 60 ParEGO trials in
two levels (after a new network, its post-training knobs are swept: up to 3 trials a
network), the dominated pruner stopping quantization-aware trainings that cheaper ones
already beat.
Every flag overrides the spec; --training ptq also drops the spec's qat knobs and
pruner. A spec file (YAML):

  name: digits-mlp
  dataset: digits                 # digits, breast-cancer, fashion-mnist or csv:PATH
  model: {spec: "mlp:64,64"}      # or {kind: mlp, hidden: [64, 64]}, {kind: cnn}, {file: m.fhtm}
  training: {epochs: 40, patience: 8, fine_tune_epochs: 3, seed: 1}
  space:
    n_w_bits: [2, 8]
    n_a_bits: [2, 8]
    n_input_bits: 8               # a number fixes a knob; left out: follows n_a_bits
    pruning: [0, 0.7]
    sparsity: 0
    rounding_threshold_bits: [3, 8, off]   # 2..8 (Concrete ML's range): or [3, 8], 6, off, or
                                  # Concrete ML's dict {n_bits: [3, 8], method: approximate}
    rounding_method: [exact, approximate]  # the default: search both; or exact, or approximate
    p_error: [1e-5, 0.1]          # log-uniform; or global_p_error: [1e-3, 0.1]
    training: [ptq, qat]          # left out: ptq (post-training quantization only)
    qat_epochs: 5                 # the knobs of qat trials (ptq trials ignore them):
    n_accum_bits: [8, 16]         #   epochs, accumulator bound (left out: none),
    power_of_two_scaling: [false, true]  # and power-of-two scales (left out: false)
  objectives:                     # the default
    - {name: accuracy, direction: maximize}
    - {name: latency_ms, direction: minimize}
  constraint: {max_accuracy_drop: 0.01}   # or max_latency_ms: 500
  sampler: parego                 # parego, nsga2, tpe, random, grid, or a mapping such as
                                  # {name: parego, startup_trials: 12, sweep: 3},
                                  # {name: nsga2, population: 10, mutation_prob: 0.4, eta: 3},
                                  # {name: tpe, objective: latency_ms}, {name: grid, points: 5};
                                  # sweep: trials per trained network (default 3 with qat in
                                  # the space, else 1)
  pruner: dominated               # stop qat trainings that cheaper ones already beat (the
                                  # default with qat in the space; else none), median, none,
                                  # or {name: median, startup_trainings: 3, warmup_epochs: 1}
  trials: 60
  timeout: 10m
  workers: 1
  seed: 0
  fhe: {security: 128, cores: 0, strategy: multi, cost: ms}   # cost: ms or complexity

A study of an existing name is joined (same spec) and run up to its number of trials, so
several processes may run one study on one database. Ctrl-C stops starting trials and
lets running ones finish; a second Ctrl-C interrupts them (their knobs are queued again).
Either way, or after a crash, "fhetune study resume NAME" completes the study.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runStudyStart(cmd, a, f) },
	}
	fl := c.Flags()
	fl.StringVar(&f.spec, "spec", "", "study spec file (YAML); without it, the built-in default study")
	fl.StringVar(&f.name, "name", "", "study name (default \""+tuner.DefaultStudyName+"\")")
	fl.StringVar(&f.dataset, "dataset", "", "data set: digits, breast-cancer, fashion-mnist or csv:PATH")
	fl.StringVar(&f.dataDir, "data-dir", "", "folder of the fashion-mnist IDX files")
	fl.StringVar(&f.labelColumn, "label-column", "", "csv:PATH data sets: label column by header name")
	fl.StringVar(&f.model, "model", "", "network spec: mlp, cnn, mlp:64,64, cnn:c8k3p1,pool2,fc32, ...")
	fl.StringVar(&f.modelFile, "model-file", "", "a trained model file to tune instead of training one")
	fl.IntVar(&f.epochs, "epochs", 0, "training epochs of the base model (default 40)")
	fl.IntVar(&f.fineTune, "fine-tune-epochs", 0, "fine-tuning epochs of each pruned network (default 3; 0 in a spec: none)")
	fl.Uint64Var(&f.trainSeed, "training-seed", 0, "seed of the data split, the weights, fine-tuning and the simulated TLU errors (default 1)")
	for _, k := range tuner.KnobNames() {
		f.ranges[k] = fl.String(flagName(k), "", knobHelp(k))
	}
	fl.StringVar(&f.objectives, "objectives", "", "objectives, e.g. accuracy,latency_ms or accuracy:max,pbs_count:min (known: "+
		strings.Join(tuner.Objectives(), ", ")+")")
	fl.Float64Var(&f.maxDrop, "max-accuracy-drop", 0, "constraint: float accuracy minus accuracy at most this share")
	fl.Float64Var(&f.maxLatency, "max-latency-ms", 0, "constraint: latency_ms at most this")
	fl.StringVar(&f.sampler, "sampler", "", "sampler: "+strings.Join(tuner.Samplers(), ", ")+" (default parego)")
	fl.IntVar(&f.sweep, "sweep", 0, fmt.Sprintf("trials per trained network, sweeping its post-training knobs (default %d when the space has training qat, else 1)", tuner.DefaultSweep))
	fl.IntVar(&f.population, "population", 0, "NSGA-II population (default: a sixth of the trials, 4..50)")
	fl.StringVar(&f.pruner, "pruner", "", "stop dominated quantization-aware trainings early: "+strings.Join(tuner.Pruners(), ", ")+
		" (default dominated when the space has training qat, else none)")
	fl.IntVar(&f.trials, "trials", 0, fmt.Sprintf("number of trials (default %d)", tuner.DefaultTrials))
	fl.DurationVar(&f.timeout, "timeout", 0, "stop starting trials after this long, e.g. 10m (0: no limit)")
	fl.IntVar(&f.workers, "workers", 0, "trials run at once by this process (default 1: reproducible)")
	fl.Int64Var(&f.seed, "seed", 0, "sampler seed")
	fl.IntVar(&f.security, "security", 0, "security level in bits (default 128)")
	fl.IntVar(&f.cores, "cores", 0, "cores of the latency estimate (default: the calibration profile's)")
	fl.StringVar(&f.strategy, "strategy", "", "crypto parameters: multi (one set per TLU layer, default) or mono")
	fl.StringVar(&f.cost, "cost", "", "what chooses the crypto sets: ms (the calibration profile's milliseconds, default) or complexity (Concrete's cost model)")
	f.run.register(fl)
	return c
}

func flagName(knob string) string { return strings.ReplaceAll(knob, "_", "-") }

func knobHelp(knob string) string {
	switch knob {
	case tuner.KnobRoundingThresholdBits:
		return "range of " + knob + " (2..8): 3,8 or 3,8,off or off or a fixed value, or \"{n_bits: 6, method: approximate}\""
	case tuner.KnobRoundingMethod:
		return "rounding method: exact (default), approximate, or both (searched)"
	case tuner.KnobPError, tuner.KnobGlobalPError:
		return "range of " + knob + " (log-uniform), e.g. 1e-5,0.1, or a fixed value"
	case tuner.KnobNInputBits:
		return "range of " + knob + " (default: equal to n_a_bits)"
	case tuner.KnobPruning, tuner.KnobSparsity:
		return "range of " + knob + " (a share in [0, 1)), e.g. 0,0.7, or a fixed value"
	case tuner.KnobTraining:
		return "training: ptq (default), qat, or ptq,qat (searched)"
	case tuner.KnobPowerOfTwoScaling:
		return "power_of_two_scaling of qat trials: false (default), true, or false,true (searched)"
	case tuner.KnobQATEpochs:
		return fmt.Sprintf("range of qat_epochs (≥ 1), e.g. 5,20, or a fixed value (default %d)", tuner.DefaultQATEpochs)
	case tuner.KnobNAccumBits:
		return "range of n_accum_bits (2..62) of qat trials, e.g. 8,16, or a fixed value (default: no bound)"
	}
	return "range of " + knob + ", e.g. 2,8, or a fixed value"
}

// clearKnob removes a knob of quantization-aware training from the space.
func clearKnob(sp *tuner.SpaceSpec, knob string) {
	switch knob {
	case tuner.KnobPowerOfTwoScaling:
		sp.PowerOfTwoScaling = nil
	case tuner.KnobQATEpochs:
		sp.QATEpochs = nil
	case tuner.KnobNAccumBits:
		sp.NAccumBits = nil
	}
}

// apply overrides the spec with the flags that were set.
func (f *studySpecFlags) apply(c *cobra.Command, s *tuner.Spec) error {
	fl := c.Flags()
	set := func(name string) bool { return fl.Changed(name) }
	if set("name") {
		s.Name = f.name
	}
	if set("dataset") {
		s.Dataset = f.dataset
	}
	if set("data-dir") {
		s.DataDir = f.dataDir
	}
	if set("label-column") {
		s.LabelColumn = f.labelColumn
	}
	if set("model") && set("model-file") {
		return badInput("give --model or --model-file, not both")
	}
	if set("model") {
		s.Model = tuner.ModelSpec{Spec: f.model}
	}
	if set("model-file") {
		s.Model = tuner.ModelSpec{File: f.modelFile}
	}
	if set("epochs") {
		if f.epochs < 1 {
			return badInput("--epochs %d: want at least 1", f.epochs)
		}
		s.Training.Epochs = f.epochs
	}
	if set("fine-tune-epochs") {
		if f.fineTune < 0 {
			return badInput("--fine-tune-epochs %d: want 0 or more", f.fineTune)
		}
		v := f.fineTune
		s.Training.FineTuneEpochs = &v
	}
	if set("training-seed") {
		v := f.trainSeed
		s.Training.Seed = &v
	}
	for _, k := range tuner.KnobNames() {
		name := flagName(k)
		if !set(name) {
			continue
		}
		sp := &s.Space
		if k == tuner.KnobRoundingMethod {
			m, err := tuner.ParseMethodChoice(*f.ranges[k])
			if err != nil {
				return badInput("--%s: %v", name, err)
			}
			sp.RoundingMethod = &m
			if rt := sp.RoundingThresholdBits; rt != nil && rt.Method != "" && !set(flagName(tuner.KnobRoundingThresholdBits)) {
				// The flag overrides the method of the spec's rounding_threshold_bits.
				c := *rt
				c.Method = ""
				sp.RoundingThresholdBits = &c
			}
			continue
		}
		if tuner.KnobChoices(k) != nil {
			ch, err := tuner.ParseChoices(k, *f.ranges[k])
			if err != nil {
				return badInput("--%s: %v", name, err)
			}
			if k == tuner.KnobTraining {
				sp.Training = &ch
				if !slices.Contains(ch.Values, tuner.TrainingQAT) {
					// Without qat the spec's (or the default study's) knobs of
					// quantization-aware training go too, unless given as flags.
					for _, q := range []string{tuner.KnobPowerOfTwoScaling, tuner.KnobQATEpochs, tuner.KnobNAccumBits} {
						if !set(flagName(q)) {
							clearKnob(sp, q)
						}
					}
					s.Pruner = tuner.PrunerSpec{} // the default: none without qat (--pruner still applies)
				}
			} else {
				sp.PowerOfTwoScaling = &ch
			}
			continue
		}
		r, err := tuner.ParseRange(*f.ranges[k])
		if err != nil {
			return badInput("--%s: %v", name, err)
		}
		switch k {
		case tuner.KnobNWBits:
			sp.NWBits = &r
		case tuner.KnobNABits:
			sp.NABits = &r
		case tuner.KnobNInputBits:
			sp.NInputBits = &r
		case tuner.KnobPruning:
			sp.Pruning = &r
		case tuner.KnobSparsity:
			sp.Sparsity = &r
		case tuner.KnobRoundingThresholdBits:
			sp.RoundingThresholdBits = &r
			if r.Method != "" && !set(flagName(tuner.KnobRoundingMethod)) {
				sp.RoundingMethod = nil // the flag's method overrides the spec's rounding_method
			}
		case tuner.KnobPError:
			sp.PError, sp.GlobalPError = &r, nil
		case tuner.KnobGlobalPError:
			sp.GlobalPError, sp.PError = &r, nil
		case tuner.KnobQATEpochs:
			sp.QATEpochs = &r
		case tuner.KnobNAccumBits:
			sp.NAccumBits = &r
		}
	}
	if set("p-error") && set("global-p-error") {
		return badInput("give --p-error or --global-p-error, not both")
	}
	if set("objectives") {
		var objs []tuner.ObjectiveSpec
		for _, part := range strings.Split(f.objectives, ",") {
			name, dir, _ := strings.Cut(strings.TrimSpace(part), ":")
			if name == "" {
				return badInput("--objectives %q: an empty objective name", f.objectives)
			}
			objs = append(objs, tuner.ObjectiveSpec{Name: name, Direction: dir})
		}
		s.Objectives = objs
	}
	if set("max-accuracy-drop") {
		v := f.maxDrop
		s.Constraint.MaxAccuracyDrop = &v
	}
	if set("max-latency-ms") {
		v := f.maxLatency
		s.Constraint.MaxLatencyMS = &v
	}
	if set("sampler") {
		s.Sampler = tuner.SamplerSpec{Name: f.sampler}
	}
	if set("pruner") {
		s.Pruner = tuner.PrunerSpec{Name: f.pruner}
	}
	if set("population") {
		if f.population < 2 {
			return badInput("--population %d: want at least 2", f.population)
		}
		s.Sampler.Population = f.population
	}
	if set("sweep") {
		if f.sweep < 1 {
			return badInput("--sweep %d: want 1 (no sweep) or more trials per trained network", f.sweep)
		}
		s.Sampler.Sweep = f.sweep
	}
	if err := applyRunFlags(c, s, f.trials, f.workers, f.timeout); err != nil {
		return err
	}
	if set("seed") {
		if f.seed < 0 {
			return badInput("--seed %d: want 0 or more", f.seed)
		}
		s.Seed = f.seed
	}
	if set("security") {
		s.FHE.Security = f.security
	}
	if set("cores") {
		if f.cores < 1 {
			return badInput("--cores %d: want at least 1", f.cores)
		}
		s.FHE.Cores = f.cores
	}
	if set("strategy") {
		s.FHE.Strategy = f.strategy
	}
	if set("cost") {
		s.FHE.Cost = f.cost
	}
	return nil
}

// applyRunFlags overrides the trials, workers and timeout of a spec (start and resume).
func applyRunFlags(c *cobra.Command, s *tuner.Spec, trials, workers int, timeout time.Duration) error {
	fl := c.Flags()
	if fl.Changed("trials") {
		if trials < 1 {
			return badInput("--trials %d: want at least 1", trials)
		}
		s.Trials = trials
	}
	if fl.Changed("workers") {
		if workers < 1 || workers > tuner.MaxWorkers {
			return badInput("--workers %d: want 1..%d", workers, tuner.MaxWorkers)
		}
		s.Workers = workers
	}
	if fl.Changed("timeout") {
		if timeout < 0 {
			return badInput("--timeout %v: want 0 (no limit) or more", timeout)
		}
		s.Timeout = tuner.Duration(timeout)
	}
	return nil
}

func runStudyStart(cmd *cobra.Command, a *app, f *studySpecFlags) error {
	spec := tuner.DefaultSpec()
	if f.spec != "" {
		var err error
		if spec, err = tuner.LoadSpec(f.spec); err != nil {
			return usageError{err}
		}
	}
	if err := f.apply(cmd, &spec); err != nil {
		return err
	}
	// Everything that can be wrong with the input is checked before the database is
	// opened, so bad input never creates or changes one.
	plan, err := tuner.NewPlan(spec)
	if err != nil {
		return planError(err)
	}
	if f.run.heartbeat <= 0 || f.run.staleAfter <= 0 {
		return badInput("--heartbeat and --stale-after must be positive")
	}
	ctx := cmd.Context()
	store, err := a.openStore(ctx, false)
	if err != nil {
		return err
	}
	defer store.Close()
	return runStudy(cmd, a, store, plan, f.run)
}

// planError marks errors of tuner.NewPlan (a bad spec, data or model file) as bad input.
func planError(err error) error {
	if errors.Is(err, tuner.ErrStudySpec) || errors.Is(err, tuner.ErrStudyData) {
		return usageError{err}
	}
	return err
}

// runStudy runs a planned study with progress on stderr, then prints its outcome.
func runStudy(cmd *cobra.Command, a *app, store *studies.Store, plan *tuner.Plan, rf studyRunFlags) error {
	spec := plan.Spec()
	ctx := cmd.Context()
	// The first interrupt (main cancels ctx) stops new trials and lets running ones end;
	// a second one interrupts them.
	runCtx, cancelRun := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRun()
	stop := make(chan struct{})
	var stopOnce sync.Once
	stopNow := func() { stopOnce.Do(func() { close(stop) }) }
	done := make(chan struct{})
	defer close(done)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	pb := newProgressPrinter(a.stderr)
	pb.fixed = plan.Fixed()
	const stopping = "stopping: no new trials; waiting for running ones (Ctrl-C again to interrupt them)"
	go func() {
		ctxDone := ctx.Done()
		n := 0 // signals seen; main's context also ends on the first one
		for {
			select {
			case <-done:
				return
			case <-ctxDone:
				ctxDone = nil
				if n == 0 {
					stopNow()
					pb.note(stopping)
				}
			case <-sigs:
				n++
				if n == 1 {
					if ctxDone != nil {
						stopNow()
						pb.note(stopping)
					}
					continue
				}
				cancelRun()
				pb.note("interrupting running trials")
				return
			}
		}
	}()

	fmt.Fprintf(a.stderr, "study %s: %d trials, %s sampler, %s on %s, database %s\n", spec.Name, spec.Trials,
		spec.Sampler.Name, modelText(spec), spec.Dataset, a.dbName())
	sum, err := tuner.Run(runCtx, store, plan, tuner.WithLogger(a.log), tuner.WithStop(stop),
		tuner.WithHeartbeat(rf.heartbeat, rf.staleAfter), tuner.WithProgress(pb.update))
	pb.finish()
	if err != nil {
		if errors.Is(err, tuner.ErrStudyConflict) {
			return badInput("%v: resume it with `%s`, or choose another --name", err, resumeCommand(a, spec.Name))
		}
		if errors.Is(err, tuner.ErrStudyData) {
			return usageError{err}
		}
		return err
	}
	if rf.asJSON {
		if err := writeJSON(a.stdout, studyOutcomeDoc(a, sum)); err != nil {
			return err
		}
	} else if err := printOutcome(a, sum); err != nil {
		return err
	}
	switch {
	case sum.Interrupted:
		return fmt.Errorf("interrupted: study %q has %d of %d trials; resume with: %s", sum.Study.Name, sum.Done,
			sum.Target, resumeCommand(a, sum.Study.Name))
	case sum.TimedOut && sum.Done < sum.Target:
		fmt.Fprintf(a.stderr, "timeout: study %q has %d of %d trials; resume with: %s\n", sum.Study.Name, sum.Done,
			sum.Target, resumeCommand(a, sum.Study.Name))
	}
	return nil
}

func modelText(s tuner.Spec) string {
	if s.Model.File != "" {
		return s.Model.File
	}
	return s.Model.Spec
}

// shellQuote quotes a word for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=+,@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// dbArg is the --db part of a suggested command ("" for the default database); a
// PostgreSQL URL goes without its password (PGPASSWORD or ~/.pgpass can supply it).
func dbArg(a *app) string {
	if a.dbPath == defaultDBPath() && a.dbPath == "fhetune.db" {
		return ""
	}
	return " --db " + shellQuote(a.dbName())
}

func resumeCommand(a *app, name string) string {
	return "fhetune" + dbArg(a) + " study resume " + shellQuote(name)
}

func reportCommand(a *app, name string) string {
	return "fhetune" + dbArg(a) + " report " + shellQuote(name) + " --out " + shellQuote(name+"-report")
}
