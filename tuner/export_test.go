package tuner

// SetBeforeStartTrial makes every claim call f right before its StartTrial, where
// another process may start a trial this one has not seen; the returned function
// removes it. Tests only, and not from parallel tests.
func SetBeforeStartTrial(f func()) (restore func()) {
	beforeStartTrial = f
	return func() { beforeStartTrial = nil }
}
