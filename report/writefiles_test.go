package report_test

import (
	"bytes"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fhetune/fhetune/report"
)

// TestWriteFiles renders once and writes what Render returned: the same files Write
// writes, byte for byte; names with a folder in them are refused before anything is
// written.
func TestWriteFiles(t *testing.T) {
	s := smallStudy()
	files, err := report.Render(s, report.Options{Formats: []string{"svg"}})
	if err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	dir := filepath.Join(base, "a")
	if err := report.WriteFiles(dir, files); err != nil {
		t.Fatal(err)
	}
	viaWrite := filepath.Join(base, "b")
	if err := report.Write(viaWrite, s, report.Options{Formats: []string{"svg"}}); err != nil {
		t.Fatal(err)
	}
	names := listDir(t, viaWrite)
	if got := listDir(t, dir); !slices.Equal(got, names) {
		t.Fatalf("WriteFiles wrote %v, Write %v", got, names)
	}
	for _, name := range names {
		if !bytes.Equal(readFile(t, filepath.Join(dir, name)), readFile(t, filepath.Join(viaWrite, name))) {
			t.Errorf("%s differs between WriteFiles and Write", name)
		}
	}

	for _, bad := range []string{"../escape.svg", "sub/x.svg", "..", ""} {
		t.Run("name "+bad, func(t *testing.T) {
			out := filepath.Join(base, "bad")
			err := report.WriteFiles(out, append(slices.Clone(files), report.File{Name: bad, Data: []byte("x")}))
			if !errors.Is(err, report.ErrOutputDir) || !strings.Contains(err.Error(), "plain name") {
				t.Fatalf("err = %v, want ErrOutputDir saying the name is not plain", err)
			}
			if got := listDir(t, base); !slices.Equal(got, []string{"a", "b"}) {
				t.Errorf("a refused write left %v in %s", got, base)
			}
		})
	}
}
