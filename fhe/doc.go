// Package fhe holds the TFHE side of fhetune: crypto parameter sets, their security,
// noise and cost, and the optimizer that picks the cheapest secure set for a table
// lookup (TLU) of a given precision, dot-product 2-norm and error probability.
//
// Conventions: the ciphertext modulus is q = 2^64, secret keys are binary and the FFT is
// float64. Variances are in modular units (q² = 2^128) unless a name says "torus".
// Formulas follow Concrete's public CPU noise and cost models (eprint 2022/704).
//
// # Files
//
//   - params.go: [ParamsLiteral] → [Params] (checked, read-only); security.go: the
//     security curves ([MinVariance]).
//   - noise.go: the variance terms of the atomic pattern dot product → keyswitch →
//     bootstrap as methods on Params ([Params.Noise], [Params.DecodingVariance]).
//   - perror.go: κ, the variance bound of a precision and p_error, the actual p_error of
//     a variance, global ↔ per-TLU p_error.
//   - cost.go: Concrete's complexity model ([Params.Cost], [Params.Complexity]).
//   - objective.go: what the optimizer minimizes ([CostKind]): Concrete's complexity, or
//     calibrated milliseconds from a [Timer] ([CostMS], [WithTimer], [CheckTimer]), and
//     the prices the search reads.
//   - optimizer.go: [Optimizer], the exact, memoized search for the cheapest set of a
//     [Query]; explain.go: [Solution.Explain].
//   - circuit_params.go: sets for a whole circuit of TLU groups ([Optimizer.Circuit]),
//     one per group or one shared.
//   - graph.go: a circuit cut into parameter partitions with keyswitches between them
//     ([Graph], [Decoding], [GraphSolution], [KeySwitchBetween]); graph_optimize.go:
//     their joint choice ([Optimizer.Graph]), after Concrete's multi-parameter
//     optimizer.
//
// # The optimizer
//
// The cheapest set is the one of least complexity (dot product + keyswitch + bootstrap;
// with [CostMS], of least predicted milliseconds among the sets with n ≤ k·N) whose
// variance at decoding, norm2²·V_BR + V_KS + V_MS, stays within
// (2^(64−p−2)/κ)², with both keys at least as noisy as the security curve demands. The
// search is exact over its space. It relies on the structure of the models rather than
// on sampling: for each level only the base of least variance can be optimal; levels
// that do not lower the variance are dropped (cost grows with the level); for fixed
// levels cost grows with n, and a lower bound on the variance of every larger n (the
// least blind-rotation term at n plus the least keyswitch and modulus-switch terms
// beyond n) ends the scan of n once it breaks the bound; at a given n and blind-rotation level the cheapest feasible keyswitch level is
// found by bisection. Lower bounds on the cost of each (k, N) order the search and end
// it. Tests compare it with brute force on reduced spaces and with Concrete's own
// reference table, which it reproduces row for row.
//
// This package knows nothing of studies, search or the CLI; it must not import them.
package fhe
