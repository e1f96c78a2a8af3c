// Package fhe holds the TFHE side of fhetune: crypto parameter sets, their security,
// noise and cost, and the optimizer that picks the cheapest secure set for a table
// lookup (TLU) of a given precision, dot-product 2-norm and error probability.
//
// Conventions: the ciphertext modulus is q = 2^64, secret keys are binary and the FFT is
// float64. Variances are in modular units (q² = 2^128) unless a name says "torus".
// Formulas follow Concrete's public CPU noise and cost models (eprint 2022/704).
//
// This package knows nothing of studies, search or the CLI; it must not import them.
package fhe
