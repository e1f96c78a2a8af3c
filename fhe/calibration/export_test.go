package calibration

// BootstrapOnce runs one keyswitch + programmable bootstrap on the runner's scratch
// input, for benchmarks.
func (r *Runner) BootstrapOnce() {
	r.bootstrap(r.eval, r.in, r.ksOut, r.acc, r.out)
}
