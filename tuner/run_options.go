package tuner

import (
	"context"
	"io"
	"log/slog"
	"time"
)

// EvalFunc evaluates the knobs of one trial. Run's default calls Evaluate with the
// study's base model, data splits and calibration profile; tests and benchmarks may pass
// a cheaper one with WithEvaluator. It must be safe for concurrent use when the study
// runs several workers.
type EvalFunc func(ctx context.Context, k Knobs) (Result, error)

// Default heartbeat settings (see WithHeartbeat).
const (
	DefaultHeartbeat  = 2 * time.Second
	DefaultStaleAfter = 30 * time.Second
)

// Option configures Run.
type Option func(*runConfig)

type runConfig struct {
	log        *slog.Logger
	progress   func(Progress)
	stop       <-chan struct{}
	heartbeat  time.Duration
	staleAfter time.Duration
	eval       EvalFunc
}

func defaultRunConfig() runConfig {
	return runConfig{
		log:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		heartbeat:  DefaultHeartbeat,
		staleAfter: DefaultStaleAfter,
	}
}

// WithLogger sends Run's log records (trials started and ended, reaped trials, base
// model training) to l. Default: discard them.
func WithLogger(l *slog.Logger) Option {
	return func(c *runConfig) {
		if l != nil {
			c.log = l
		}
	}
}

// WithProgress calls f when Run starts and after each trial this process finishes. Calls
// come one at a time, from Run's goroutines; f should return quickly.
func WithProgress(f func(Progress)) Option { return func(c *runConfig) { c.progress = f } }

// WithStop makes Run stop starting trials once stop is closed; trials already running
// finish normally and are stored, and Run returns with Summary.Interrupted set. (Cancelling
// Run's context instead also interrupts the running trials.)
func WithStop(stop <-chan struct{}) Option { return func(c *runConfig) { c.stop = stop } }

// WithHeartbeat sets how often a running trial records that its worker is alive (default
// 2 s) and after how long without a heartbeat a RUNNING trial of another worker counts
// as abandoned and is reaped: failed and its parameters enqueued again (default 30 s).
// Trials of dead processes on the same host are reaped without waiting. Values ≤ 0 keep
// the defaults; staleAfter is raised to at least twice every.
func WithHeartbeat(every, staleAfter time.Duration) Option {
	return func(c *runConfig) {
		if every > 0 {
			c.heartbeat = every
		}
		if staleAfter > 0 {
			c.staleAfter = staleAfter
		}
		c.staleAfter = max(c.staleAfter, 2*c.heartbeat)
	}
}

// WithEvaluator replaces the trial objective (default: Evaluate on the study's task). The
// base model is still trained or loaded, since constraints measure the accuracy drop from
// it.
func WithEvaluator(f EvalFunc) Option { return func(c *runConfig) { c.eval = f } }
