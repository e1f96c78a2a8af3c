package studies

import "time"

// Option configures [Open].
type Option func(*config)

type config struct {
	mustExist   bool
	busyTimeout time.Duration
	lockWait    time.Duration
	now         func() time.Time
}

func defaultConfig() config {
	return config{
		busyTimeout: 5 * time.Second,
		lockWait:    2 * time.Minute,
		now:         time.Now,
	}
}

// MustExist makes [Open] refuse a missing (or empty) file with [ErrNoDatabase] instead
// of creating a database: read-only commands use it. Default: create the file.
func MustExist() Option { return func(c *config) { c.mustExist = true } }

// LockWait bounds how long one operation keeps retrying while other processes hold the
// write lock before it gives up with an error. Default 2 minutes; the operation's
// context can end the wait sooner.
func LockWait(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.lockWait = d
		}
	}
}

// WithClock replaces time.Now for the store's timestamps (start, heartbeat, finish,
// created). Tests use it to reap stale trials deterministically. Default time.Now.
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now != nil {
			c.now = now
		}
	}
}
