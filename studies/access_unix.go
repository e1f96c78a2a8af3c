//go:build unix

package studies

import "syscall"

// canWrite asks the kernel whether this process may write the file.
func canWrite(path string) bool {
	const wOK = 2
	return syscall.Access(path, wOK) == nil
}
