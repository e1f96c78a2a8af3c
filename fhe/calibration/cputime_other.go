//go:build !linux

package calibration

import "time"

// threadCPUTime is unavailable on this system: measurements fall back to wall time.
func threadCPUTime() (time.Duration, bool) { return 0, false }
