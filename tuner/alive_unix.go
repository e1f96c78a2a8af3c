//go:build unix

package tuner

import (
	"errors"
	"syscall"
)

// processGone reports whether no process has that id on this host (a zombie still
// counts as present until its parent waits for it).
func processGone(pid int) bool {
	if pid <= 0 {
		return false
	}
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
