// Package calibration turns real encrypted runs into milliseconds: it runs keyswitch +
// programmable bootstrap (KS+PBS) with tfhe-go on chosen parameter sets, fits a latency
// model to the timings, and keeps the result as a [Profile] that predicts the time of any
// set on the machine that measured it.
//
// Pieces, one file each: runner.go maps an [fhe.Params] to tfhe-go parameters and measures
// one set (key generation, single-core KS+PBS latency, multi-core throughput, levelled
// dot-product work), decrypting and checking every bootstrap; plan.go chooses which sets
// to measure; model.go holds the latency model, its non-negative least-squares fit and
// the leave-one-out error; profile.go holds the [Profile] payload, its JSON form, the
// built-in default profile and the lookup of the newest stored profile.
//
// Conventions: times are milliseconds in float64 unless a name says otherwise; "one
// core" means one goroutine doing the work; runners are not safe for concurrent use.
// Long work takes a context and checks it between bootstraps.
//
// This package never prints. It must not import studies, search, tuner or the CLI; it
// reads stored profiles only through the one-method [ProfileStore] interface it declares
// in plain types, which *studies.Store satisfies.
package calibration
