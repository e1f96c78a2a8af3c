package atomicfile_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/fhetune/fhetune/atomicfile"
)

// TestWrite replaces a file's contents, leaves no temporary file, and on a failed
// rename (the path is a folder) keeps the folder and leaves nothing behind.
func TestWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	for _, s := range []string{"first", "second"} {
		if err := atomicfile.Write(p, []byte(s)); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(p); string(b) != s {
			t.Fatalf("contents %q, want %q", b, s)
		}
	}
	if st, _ := os.Stat(p); st.Mode().Perm()&0o044 == 0 {
		t.Errorf("mode %v is not readable by others", st.Mode())
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.Write(sub, []byte("x")); err == nil {
		t.Error("writing over a non-empty folder: no error")
	}
	if es, _ := os.ReadDir(dir); len(es) != 2 {
		t.Errorf("folder holds %d entries, want 2 (no temporary file left)", len(es))
	}
}
