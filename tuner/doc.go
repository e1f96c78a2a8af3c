// Package tuner drives fhetune's optimization: it holds what a trial evaluates and,
// with the study driver, how a study runs its trials.
//
// # One trial
//
// [Evaluate] is the objective of one trial. Given a trained float network and its data
// splits ([Task]), and one setting of the knobs ([Knobs], with Concrete ML's names), it
//
//  1. prunes the network (structured `pruning`: that share of hidden neurons and
//     channels removed by L2 norm; unstructured `sparsity`: that share of the smallest
//     weights of every layer pinned at zero) and fine-tunes it for
//     [DefaultFineTuneEpochs] epochs, and with `training` qat trains it
//     quantization-aware for `qat_epochs` (model.PrepareQAT: `n_accum_bits`,
//     `power_of_two_scaling`); trained networks are cached per Env and, through
//     [Task.Artifacts], as study artifacts named by their training knobs, so trials
//     that share them train once;
//  2. converts it into fhe/circuit's network description ([CircuitNetwork], with a
//     quantization-aware network's own quantizers) and compiles it into an integer
//     circuit with the quantization and rounding knobs;
//  3. asks fhe's optimizer for the crypto parameters of every TLU layer (p_error or
//     global_p_error, multi- or mono-parameter): the sets of least calibrated
//     milliseconds, or Concrete's choice of least complexity with [WithCost];
//  4. simulates the circuit exactly over the test split with each set's TLU errors
//     injected, for the accuracy with errors, without errors and in float;
//  5. estimates the latency of one encrypted inference from a calibration profile
//     ([ProfileTiming]) on the given cores.
//
// [Env] holds what the trials of a process share: the parameter optimizer (whose memo
// makes repeated parameter queries free), the timing, and the trained-network cache. It
// is safe for concurrent use, so parallel workers share one. [SearchPError] runs Concrete
// ML's p_error search over one compiled trial.
//
// # Base models
//
// [SplitTask] and [TrainBase] give every caller the same split and the same training
// recipe ([DefaultBaseTraining]), so that evaluations of one data set and spec compare
// like with like; [ResolveSpec] expands the short names "mlp" and "cnn".
//
// # Studies
//
// A study spec ([Spec]) says what to tune (data set, model or model file, training),
// the search space ([SpaceSpec]: a [Range] per knob, and the rounding methods, a
// [MethodChoice]), the objectives and an optional constraint, the sampler (parego, the
// default: Gaussian processes and, for two objectives, the expected hypervolume
// improvement; NSGA-II, TPE, random or grid from package search) and its two-level sweep,
// the budget and the FHE settings.
// rounding_threshold_bits takes Concrete ML's forms and range (2..8): a number, a range
// such as [3, 8] or [3, 8, off], off, or the dict {n_bits: [3, 8], method: approximate};
// rounding_method is exact, approximate, or [exact, approximate] to search both (the
// default, exact when rounding is off; a trial stores 0 for exact, 1 for approximate;
// [KnobLabel] names them). A method given in the dict and a different rounding_method
// are refused. [ParseSpec] reads it from YAML strictly (unknown keys, type
// errors and bad ranges are [*SpecError]s with the line); the zero Spec searches the
// post-training space (digits, the default MLP, 60 ParEGO trials), and [DefaultSpec],
// the built-in default study, adds n_input_bits and the categorical knobs ([Choices])
// training (ptq, qat) and power_of_two_scaling.
// [NewPlan] resolves the spec, loads the data and any model file and builds the search
// space, without touching a database, so that bad input is refused first.
//
// [Run] runs a Plan in a study store: it creates the study (storing the resolved spec)
// or joins an existing one of the same spec, trains the base model once and keeps it,
// with the calibration profile, as study artifacts, then runs worker goroutines until
// the study has its trials. Trial numbers come from the store, so several processes can
// run one study. Each trial's knobs are sampled from the study's history (or taken from
// a trial queued again), evaluated while heartbeats are recorded, and stored with the
// objective values, constraint values and the [Result] as attributes; a failed trial
// keeps its error. Trials abandoned by dead processes are reaped and run again;
// cancelling Run's context queues the running trials' knobs again, so a study always
// resumes ([ResumeSpec]). [Best], [DefaultPicks], [Hypervolume] and [ConcreteConfigOf]
// read a finished study.
//
// # Two levels
//
// Trials come in two levels (sweep.go, [SamplerSpec].Sweep): after the sampler proposes
// a network (the training knobs: bits, pruning, sparsity, training and its knobs), the
// next trials sweep that network's post-training knobs (rounding_threshold_bits,
// rounding_method, p_error or global_p_error) by a Pareto local search on its own
// trials, a second trial for each network and more, up to Sweep, while it has a trial on
// the study's front. They reuse the trained network and store the number of its first
// trial as the attribute "network". The default sweep is [DefaultSweep] when the space
// searches quantization-aware training, 1 (off) otherwise.
//
// # Pruning trainings
//
// A study whose space has training qat watches each quantization-aware training it
// runs ([PrunerSpec], the spec's pruner: dominated by default, median or none): after
// every epoch the trial records the network's validation accuracy as an intermediate
// value (studies.Store.Report; epoch 0 is the network set up for training), and the
// pruner compares it with the trainings of networks that cost no more (no more bits
// anywhere, at least as pruned and sparse, the same power_of_two_scaling), never with
// dearer ones, so that cheap, less accurate networks stay in a multi-objective study.
// dominated stops a training that one of them had already beaten at that epoch, median
// one below their median (goptuna's percentile pruners over those trainings; startup
// trainings and warm-up epochs as Optuna's). A stopped training returns [ErrPruned]
// (a [*PrunedError]) from [Evaluate] through [Task].OnQATEpoch; Run stores the trial
// PRUNED with the verdict ([TrialPruning]), keeps no trained network for it, and prunes
// a later trial with the same training knobs before it trains. PRUNED trials count
// towards the study's trials, have no values and are never on the front;
// [Summary].Pruned, Trainings and PrunedTrainings count them.
//
// # Imports
//
// tuner imports fhe (and fhe/circuit, fhe/calibration), search and studies; none of them
// imports tuner. Library code never prints.
package tuner
