package studies_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fhetune/fhetune/studies"
)

// makeDB creates a study database at path holding study "mlp" with one complete trial.
func makeDB(t *testing.T, path string) {
	t.Helper()
	ctx := context.Background()
	s, err := studies.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	st := createStudy(t, s, "mlp")
	tr, err := s.StartTrial(ctx, st.ID, "w")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Complete(ctx, tr.ID, []float64{0.9, 12}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// rawExec runs SQL on a file behind the store's back.
func rawExec(t *testing.T, path, query string) {
	t.Helper()
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(query); err != nil {
		t.Fatal(err)
	}
}

// TestOpenBadInput opens each kind of bad --db file, with and without MustExist, and
// checks the error (sentinel, one line naming the path) and that the file is left
// byte for byte as it was.
func TestOpenBadInput(t *testing.T) {
	garbage := make([]byte, 8192)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range garbage {
		garbage[i] = byte(rng.IntN(256))
	}
	cases := []struct {
		name    string
		setup   func(t *testing.T, path string) // creates what path names
		file    string                          // relative to the temp dir; default "x.db"
		want    error
		wantMsg string
		// mustExistOK: with MustExist the open succeeds (read-only file)
		mustExistOK bool
	}{
		{
			name:    "text file",
			setup:   func(t *testing.T, p string) { writeFile(t, p, []byte("name,accuracy\nmlp,0.9\n")) },
			want:    studies.ErrNotSQLite,
			wantMsg: "does not start with the SQLite header",
		},
		{
			name: "SQLite header then garbage",
			setup: func(t *testing.T, p string) {
				writeFile(t, p, append([]byte("SQLite format 3\x00"), garbage...))
			},
			want: studies.ErrNotSQLite,
		},
		{
			name:    "folder",
			setup:   func(t *testing.T, p string) { os.Mkdir(p, 0o755) },
			want:    studies.ErrNotSQLite,
			wantMsg: "is a folder",
		},
		{
			name:  "missing folder",
			setup: func(*testing.T, string) {},
			file:  "no/such/dir/x.db",
			want:  studies.ErrNoFolder,
		},
		{
			name: "newer schema",
			setup: func(t *testing.T, p string) {
				makeDB(t, p)
				rawExec(t, p, "PRAGMA user_version = 99")
			},
			want:    studies.ErrNewerSchema,
			wantMsg: "schema version 99, newer than the 1",
		},
		{
			name:    "another application's SQLite file",
			setup:   func(t *testing.T, p string) { rawExec(t, p, "CREATE TABLE invoices (id INTEGER PRIMARY KEY)") },
			want:    studies.ErrNotStudyDatabase,
			wantMsg: "not a fhetune study database",
		},
		{
			name: "read-only file",
			setup: func(t *testing.T, p string) {
				makeDB(t, p)
				if err := os.Chmod(p, 0o444); err != nil {
					t.Fatal(err)
				}
			},
			want:        studies.ErrReadOnly,
			wantMsg:     "not writable",
			mustExistOK: true,
		},
	}
	for _, c := range cases {
		for _, mustExist := range []bool{false, true} {
			name := c.name
			if mustExist {
				name += "/MustExist"
			}
			t.Run(name, func(t *testing.T) {
				dir := t.TempDir()
				file := c.file
				if file == "" {
					file = "x.db"
				}
				path := filepath.Join(dir, file)
				c.setup(t, path)
				before := snapshot(t, path)
				var opts []studies.Option
				if mustExist {
					opts = append(opts, studies.MustExist())
				}
				s, err := studies.Open(context.Background(), path, opts...)
				if mustExist && c.mustExistOK {
					if err != nil {
						t.Fatalf("Open with MustExist: %v", err)
					}
					list, err := s.Studies(context.Background())
					if err != nil || len(list) != 1 || list[0].Trials.Complete != 1 {
						t.Fatalf("Studies on a read-only file = %+v, %v", list, err)
					}
					if err := s.DeleteStudy(context.Background(), "mlp"); !errors.Is(err, studies.ErrReadOnly) {
						t.Fatalf("DeleteStudy on a read-only file: got %v, want ErrReadOnly", err)
					}
					s.Close()
				} else {
					if err == nil {
						s.Close()
						t.Fatalf("Open succeeded, want %v", c.want)
					}
					checkErr(t, err, c.want, c.wantMsg, path)
				}
				if after := snapshot(t, path); !bytes.Equal(before, after) {
					t.Fatalf("the file changed (%d bytes before, %d after)", len(before), len(after))
				}
				if c.want == studies.ErrNoFolder {
					if _, err := os.Stat(filepath.Join(dir, "no")); !os.IsNotExist(err) {
						t.Fatalf("Open created the missing folder (stat: %v)", err)
					}
				}
			})
		}
	}
}

// TestOpenMissing: MustExist on a missing or empty file creates nothing.
func TestOpenMissing(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.db")
	_, err := studies.Open(context.Background(), missing, studies.MustExist())
	checkErr(t, err, studies.ErrNoDatabase, "does not exist", missing)
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("MustExist created %d files", len(entries))
	}
	empty := filepath.Join(dir, "empty.db")
	writeFile(t, empty, nil)
	_, err = studies.Open(context.Background(), empty, studies.MustExist())
	checkErr(t, err, studies.ErrNoDatabase, "is empty", empty)
	if b := snapshot(t, empty); len(b) != 0 {
		t.Fatalf("the empty file grew to %d bytes", len(b))
	}
}

// TestUnknownStudy: reads and deletes of an unknown study fail with ErrNoStudy naming
// it, and leave the file unchanged.
func TestUnknownStudy(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "x.db")
	makeDB(t, path)
	before := snapshot(t, path)
	s, err := studies.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Study(ctx, "nope")
	checkErr(t, err, studies.ErrNoStudy, `"nope"`, path)
	err = s.DeleteStudy(ctx, "nope")
	checkErr(t, err, studies.ErrNoStudy, `"nope"`, path)
	_, err = s.StartTrial(ctx, 12345, "w")
	checkErr(t, err, studies.ErrNoStudy, "12345", path)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if after := snapshot(t, path); !bytes.Equal(before, after) {
		t.Fatal("the file changed")
	}
}

func TestInvalidArguments(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	st := createStudy(t, s, "mlp")
	tr, err := s.StartTrial(ctx, st.ID, "w")
	if err != nil {
		t.Fatal(err)
	}
	nan := 0.0
	nan /= nan
	for name, err := range map[string]error{
		"empty study name": func() error {
			_, err := s.CreateStudy(ctx, studies.NewStudy{Name: "", Objectives: twoObjectives})
			return err
		}(),
		"no objectives": func() error {
			_, err := s.CreateStudy(ctx, studies.NewStudy{Name: "a"})
			return err
		}(),
		"bad direction": func() error {
			_, err := s.CreateStudy(ctx, studies.NewStudy{Name: "a", Objectives: []studies.Objective{{Name: "x", Direction: "up"}}})
			return err
		}(),
		"duplicate objective": func() error {
			_, err := s.CreateStudy(ctx, studies.NewStudy{Name: "a", Objectives: []studies.Objective{twoObjectives[0], twoObjectives[0]}})
			return err
		}(),
		"bad spec JSON": func() error {
			_, err := s.CreateStudy(ctx, studies.NewStudy{Name: "a", Spec: []byte("{"), Objectives: twoObjectives})
			return err
		}(),
		"NaN value":        s.Complete(ctx, tr.ID, []float64{nan, 1}, nil),
		"bad attrs JSON":   s.Complete(ctx, tr.ID, []float64{1, 1}, []byte("nope")),
		"NaN param":        s.SetParams(ctx, tr.ID, []studies.Param{{Name: "x", Value: nan}}),
		"duplicate param":  s.SetParams(ctx, tr.ID, []studies.Param{{Name: "x"}, {Name: "x"}}),
		"negative timeout": func() error { _, err := s.ReapStale(ctx, st.ID, -1); return err }(),
		"bad profile JSON": func() error { _, err := s.SaveProfile(ctx, "m", []byte("{")); return err }(),
	} {
		if !errors.Is(err, studies.ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", name, err)
		}
	}
	if _, err := s.Study(ctx, "a"); !errors.Is(err, studies.ErrNoStudy) {
		t.Fatalf("a refused study was stored (%v)", err)
	}
}

func checkErr(t *testing.T, err, want error, msg, path string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got %v, want %v", err, want)
	}
	text := err.Error()
	if strings.Contains(text, "\n") {
		t.Fatalf("error spans lines: %q", text)
	}
	if !strings.Contains(text, path) && !strings.Contains(text, filepath.Dir(path)) {
		t.Fatalf("error %q does not name %s", text, path)
	}
	if msg != "" && !strings.Contains(text, msg) {
		t.Fatalf("error %q does not say %q", text, msg)
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// snapshot returns the file's bytes ("" for a folder or a missing file).
func snapshot(t *testing.T, path string) []byte {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil || info.IsDir() {
		return nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
