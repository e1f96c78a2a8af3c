// Package circuit turns a float neural network into the integer circuit that TFHE would
// run, and answers the two questions of every fhetune trial: what accuracy the encrypted
// model reaches and how long one encrypted inference takes.
//
// # Pipeline
//
//   - [Network] describes the float network: a closed list of layers (*[Linear],
//     *[Conv2d] with dilation and groups, *[AvgPool2d], *[MaxPool2d], [ReLU],
//     [Activation], [Flatten]) with float weights, fed standardized inputs. It mirrors
//     tuner/model's networks without importing them.
//   - [Compile] quantizes it after training, the way Concrete ML does (see Compile for
//     the rules): integer dot products, window sums, one TLU per activation element,
//     max pools as chains of comparisons (one TLU each, as Concrete lowers them), the
//     bit-width of every accumulator from the calibration data, rounding to
//     rounding_threshold_bits, and each layer's weight 2-norm.
//   - [Circuit.ChooseParams] asks fhe's parameter optimizer for a crypto set per TLU layer
//     (multi-parameter) or one for all (mono-parameter), for a p_error or global_p_error.
//   - [Circuit.Simulate] runs the circuit exactly in integers over a test set, with the
//     decoding errors of each layer's set injected into its TLUs, and reports the accuracy
//     with and without them.
//   - [Circuit.Estimate] turns the sets into milliseconds with a calibrated [Timing].
//
// # Error injection
//
// A TLU evaluation fails when the noise at decoding exceeds half a step Δ of its P-bit
// input: its index then moves by e = round(noise/Δ) modulo 2^P, as a bootstrap wraps
// around. With the set's actual error probability p (erfc(Δ/(2σ√2)), σ² the variance at
// decoding), the number of evaluations between two errors is geometric, so Simulate draws
// only the errors that happen: a skip ⌊ln U/ln(1 − p)⌋, then e from its distribution given
// e ≠ 0 (|e| = k with probability ∝ erfc((k − ½)·2κ/√2) − erfc((k + ½)·2κ/√2), κ =
// √2·erfc⁻¹(p); a random sign). Each layer has its own seeded stream and walks its
// evaluations sample by sample, so the result depends only on the seed. A sample with no
// error keeps its noiseless prediction; the others are run again from the first layer
// where an error struck, so one call gives both accuracies at little more than the cost of
// one noiseless pass.
//
// # Exactness
//
// The integers are held in float64 matrices and multiplied with gonum's GEMM: every
// product and partial sum is an integer below 2^53, which Compile checks, so the results
// are exact. A TLU is a table of 2^P float64s indexed by the P-bit pattern of the rounded
// accumulator.
//
// # Noise of the first layer
//
// The first TLU layer is fed by fresh encryptions, whose noise is smaller than that of a
// bootstrap output; every layer is asked for with the bootstrap output noise, which is
// conservative for the first.
//
// This package is part of fhe: it imports fhe, conv, act and gonum, never tuner,
// search, studies or the CLI. A Circuit is read-only after Compile and safe for concurrent use; nothing here
// prints or keeps global state.
package circuit
