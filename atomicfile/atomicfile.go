// Package atomicfile writes a file so that readers see either its old contents or its
// complete new contents: the data goes to a temporary file in the same folder, which is
// synced and renamed over the path. Model files, ONNX exports and study exports share
// it. It imports only the standard library.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write writes data to path atomically with mode 0644 (before the umask). On error the
// temporary file is removed and any earlier file at path is left as it was.
func Write(path string, data []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	// CreateTemp makes 0600; these files are for others to read too.
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
