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
//     [DefaultFineTuneEpochs] epochs (pruned networks are cached per Env, so trials that
//     share their pruning knobs train once);
//  2. converts it into fhe/circuit's network description ([CircuitNetwork]) and compiles
//     it into an integer circuit with the quantization and rounding knobs;
//  3. asks fhe's optimizer for the crypto parameters of every TLU layer (p_error or
//     global_p_error, multi- or mono-parameter);
//  4. simulates the circuit exactly over the test split with each set's TLU errors
//     injected, for the accuracy with errors, without errors and in float;
//  5. estimates the latency of one encrypted inference from a calibration profile
//     ([ProfileTiming]) on the given cores.
//
// [Env] holds what the trials of a process share: the parameter optimizer (whose memo
// makes repeated parameter queries free), the timing, and the pruned-network cache. It is
// safe for concurrent use, so parallel workers share one.
//
// # Base models
//
// [SplitTask] and [TrainBase] give every caller the same split and the same training
// recipe ([DefaultBaseTraining]), so that evaluations of one data set and spec compare
// like with like; [ResolveSpec] expands the short names "mlp" and "cnn".
//
// # Imports
//
// tuner imports fhe (and fhe/circuit, fhe/calibration), search and studies; none of them
// imports tuner. Library code never prints.
package tuner
