// Package executor runs a compiled circuit under real TFHE encryption (tfhe-go): the
// ground truth that fhetune's simulation and latency model are checked against.
//
// It executes exactly what package circuit compiled and simulates, read through
// [circuit.Circuit.Terms], [circuit.Circuit.MaxPoolWindow] and
// [circuit.Circuit.TLUTable], with the crypto sets of a [circuit.Solution]:
//
//   - Keys: per partition, an LWE/GLWE secret key, its bootstrap key and keyswitching
//     key (the keyswitch of the partition's own atomic pattern), and one keyswitching key
//     per keyswitch between partitions (from the source's big key to the destination's
//     small key).
//   - Encoding, as Concrete: a value of an L-bit accumulator is v·Δ with Δ = 2^(63−L)
//     (one padding bit); inputs are encrypted at the first layer's Δ, and every TLU
//     writes its outputs at the Δ of the accumulator that sums them.
//   - Levelled operations: the integer dot products and window sums on ciphertexts
//     (clear constants added as plaintexts).
//   - Exact rounding: after adding 2^(t−1)·Δ, each removed bit i is isolated by a
//     bootstrap on the accumulator shifted by 2^(L−i) (bit i on the padding bit) with a
//     constant table, and subtracted (Concrete's FHEToTFHEScalar lowering of round).
//     Approximate rounding adds half an accumulator step and lets the TLU's bootstrap
//     read the top P bits.
//   - TLUs: the signed offset 2^(P−1), a keyswitch (the partition's own, or between
//     partitions), a blind rotation with the TLU's table over 2^P boxes (negacyclic: the
//     padding half returns the negated entry) and a sample extraction. Every activation
//     (ReLU, leaky ReLU, sigmoid, tanh, GELU, identity) is only a table.
//   - Max pools, read through [circuit.Circuit.MaxPoolWindow]: per output, a running
//     maximum from a trivial encryption of the smallest input value, and per window
//     input x a subtraction m − x, a TLU (relu of the difference, at the layer's W bits,
//     in its inputs' partition) and an addition of x (Concrete's lowering of max).
//   - The client decrypts the output accumulators, dequantizes them and takes the arg
//     max.
//
// A layer's elements are spread over Run's cores goroutines, each with its own
// evaluators sharing the keys; each goroutine takes the next element when it is done
// with one, so that a core slowed by something else on the machine does less of the
// layer rather than holding it up with an equal share.
//
// With the secret keys, Run also decrypts every TLU output and compares it with the
// clear integer circuit, so errors are counted where they happen.
//
// This package imports fhe, fhe/circuit, fhe/calibration (for tfhe-go parameters) and
// tfhe-go; never tuner, studies or the CLI.
package executor
