package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fhetune/fhetune/studies"
)

// studyCLI runs the command line and returns the exit code, stdout and stderr.
func studyCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// makeStudyDB writes a database with study "mlp" (five complete trials, three of them
// on the Pareto front, one failed, one running, an artifact) and an empty study "cnn".
func makeStudyDB(t *testing.T, path string) {
	t.Helper()
	ctx := context.Background()
	s, err := studies.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	objs := []studies.Objective{{Name: "accuracy", Direction: studies.Maximize}, {Name: "latency_ms", Direction: studies.Minimize}}
	st, err := s.CreateStudy(ctx, studies.NewStudy{Name: "mlp", Spec: json.RawMessage(`{"dataset": "digits"}`),
		Objectives: objs, UserAttrs: map[string]string{"owner": "cli-test"}})
	if err != nil {
		t.Fatal(err)
	}
	// (accuracy, latency): (0.95, 300), (0.90, 120) and (0.80, 40) are the front;
	// (0.85, 200) and (0.79, 50) are dominated.
	for i, v := range [][]float64{{0.85, 200}, {0.95, 300}, {0.90, 120}, {0.79, 50}, {0.80, 40}} {
		tr, err := s.StartTrial(ctx, st.ID, "w")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetParams(ctx, tr.ID, []studies.Param{{Name: "n_a_bits", Value: float64(3 + i)}}); err != nil {
			t.Fatal(err)
		}
		if err := s.Complete(ctx, tr.ID, v, nil); err != nil {
			t.Fatal(err)
		}
	}
	tr, _ := s.StartTrial(ctx, st.ID, "w")
	if err := s.Fail(ctx, tr.ID, "boom"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StartTrial(ctx, st.ID, "w"); err != nil {
		t.Fatal(err)
	}
	if err := s.PutArtifact(ctx, st.ID, "base_model", make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateStudy(ctx, studies.NewStudy{Name: "cnn", Objectives: objs}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) []byte {
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

func TestStudyMissingDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fresh.db")
	code, out, errOut := studyCLI(t, "--db", path, "study", "list")
	if code != 0 || !strings.Contains(out, "no studies yet") || errOut != "" {
		t.Fatalf("study list on a missing database: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, _ = studyCLI(t, "--db", path, "study", "list", "--json")
	if code != 0 || strings.TrimSpace(out) != "[]" {
		t.Fatalf("study list --json on a missing database: exit %d, stdout %q", code, out)
	}
	code, out, errOut = studyCLI(t, "--db", path, "study", "show", "mlp")
	if code != 1 || out != "" || !strings.Contains(errOut, "does not exist") || !strings.Contains(errOut, path) ||
		strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "fhetune: ") {
		t.Fatalf("study show on a missing database: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, _, errOut = studyCLI(t, "--db", path, "study", "delete", "mlp", "--yes")
	if code != 1 || !strings.Contains(errOut, "does not exist") {
		t.Fatalf("study delete on a missing database: exit %d, stderr %q", code, errOut)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("a read-only command created the database (stat: %v)", err)
	}
}

func TestStudyListShowDelete(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	makeStudyDB(t, path)

	code, out, errOut := studyCLI(t, "--db", path, "study", "list")
	if code != 0 || errOut != "" {
		t.Fatalf("study list: exit %d, stderr %q", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "NAME") {
		t.Fatalf("study list printed:\n%s", out)
	}
	// mlp: 7 trials, 5 complete, 1 running, 0 waiting, 1 fail, 0 pruned, front 3
	if f := strings.Fields(lines[1]); len(f) < 8 || strings.Join(f[:8], " ") != "mlp 7 5 1 0 1 0 3" {
		t.Fatalf("study list row for mlp: %q", lines[1])
	}

	code, out, _ = studyCLI(t, "--db", path, "study", "list", "--json")
	var list []struct {
		Name      string         `json:"name"`
		Trials    studies.Counts `json:"trials"`
		FrontSize int            `json:"front_size"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil || code != 0 {
		t.Fatalf("study list --json: exit %d, %v:\n%s", code, err, out)
	}
	if len(list) != 2 || list[0].Name != "mlp" || list[0].Trials.Complete != 5 || list[0].FrontSize != 3 || list[1].Name != "cnn" {
		t.Fatalf("study list --json = %+v", list)
	}

	code, out, _ = studyCLI(t, "--db", path, "study", "show", "mlp")
	if code != 0 {
		t.Fatalf("study show: exit %d", code)
	}
	for _, want := range []string{"mlp (id 1)", "accuracy (maximize), latency_ms (minimize)",
		"7 (complete 5, running 1, waiting 0, fail 1, pruned 0)", "artifact base_model", "1000 bytes",
		"owner", "cli-test", "Pareto front: 3 trials", `{"dataset":"digits"}`} {
		if !strings.Contains(out, want) {
			t.Errorf("study show output lacks %q:\n%s", want, out)
		}
	}
	front := out[strings.Index(out, "TRIAL"):]
	if i, j, k := strings.Index(front, "0.95"), strings.Index(front, "0.9 "), strings.Index(front, "0.8 "); !(i > 0 && i < j && j < k) {
		t.Errorf("front not listed best accuracy first:\n%s", front)
	}
	if strings.Contains(front, "0.85") || strings.Contains(front, "0.79") {
		t.Errorf("front lists dominated trials:\n%s", front)
	}

	code, out, _ = studyCLI(t, "--db", path, "study", "show", "mlp", "--json")
	var doc struct {
		Name      string              `json:"name"`
		Spec      json.RawMessage     `json:"spec"`
		Trials    studies.Counts      `json:"trials"`
		FrontSize int                 `json:"front_size"`
		Artifacts []map[string]any    `json:"artifacts"`
		Front     []studies.Trial     `json:"front"`
		Obj       []studies.Objective `json:"objectives"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != 0 {
		t.Fatalf("study show --json: exit %d, %v:\n%s", code, err, out)
	}
	if doc.Name != "mlp" || doc.FrontSize != 3 || len(doc.Front) != 3 || len(doc.Artifacts) != 1 || doc.Trials.Fail != 1 {
		t.Fatalf("study show --json = %+v", doc)
	}
	for i, want := range []float64{0.95, 0.90, 0.80} {
		if doc.Front[i].Values[0] != want || doc.Front[i].State != studies.Complete {
			t.Fatalf("front[%d] = %+v, want accuracy %v", i, doc.Front[i], want)
		}
	}

	before := readFile(t, path)
	code, out, errOut = studyCLI(t, "--db", path, "study", "delete", "mlp")
	if code != 2 || out != "" || !strings.Contains(errOut, "--yes") || !strings.Contains(errOut, `"mlp"`) {
		t.Fatalf("study delete without --yes: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if !bytes.Equal(before, readFile(t, path)) {
		t.Fatal("study delete without --yes changed the file")
	}
	code, out, errOut = studyCLI(t, "--db", path, "study", "delete", "mlp", "--yes")
	if code != 0 || !strings.Contains(out, `deleted study "mlp" (7 trials)`) {
		t.Fatalf("study delete --yes: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, _ = studyCLI(t, "--db", path, "study", "list", "--json")
	if err := json.Unmarshal([]byte(out), &list); err != nil || code != 0 || len(list) != 1 || list[0].Name != "cnn" {
		t.Fatalf("study list after delete: exit %d, %v, %+v", code, err, list)
	}
	code, _, errOut = studyCLI(t, "--db", path, "study", "show", "mlp")
	if code != 2 || !strings.Contains(errOut, `no such study: "mlp"`) {
		t.Fatalf("study show of the deleted study: exit %d, stderr %q", code, errOut)
	}
}

// TestStudyBadInput runs the study commands on each kind of bad --db file and an
// unknown study: one-line error naming the path or the study, the expected exit code,
// and the file byte for byte unchanged.
func TestStudyBadInput(t *testing.T) {
	type want struct {
		code int
		msg  string // in stderr; "" for success
	}
	cases := []struct {
		name  string
		setup func(t *testing.T, path string)
		file  string
		study string
		list  want
		show  want
		del   want
	}{
		{
			name:  "text file",
			setup: func(t *testing.T, p string) { os.WriteFile(p, []byte("this is not a database\n"), 0o644) },
			list:  want{2, "not an SQLite database file"},
			show:  want{2, "not an SQLite database file"},
			del:   want{2, "not an SQLite database file"},
		},
		{
			name:  "missing folder",
			setup: func(*testing.T, string) {},
			file:  "nope/s.db",
			list:  want{2, "folder does not exist"},
			show:  want{2, "folder does not exist"},
			del:   want{2, "folder does not exist"},
		},
		{
			name: "newer schema",
			setup: func(t *testing.T, p string) {
				makeStudyDB(t, p)
				db, err := sql.Open("sqlite3", p)
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				if _, err := db.Exec("PRAGMA user_version = 42"); err != nil {
					t.Fatal(err)
				}
			},
			list: want{1, "schema version 42"},
			show: want{1, "schema version 42"},
			del:  want{1, "schema version 42"},
		},
		{
			name: "read-only file",
			setup: func(t *testing.T, p string) {
				makeStudyDB(t, p)
				if err := os.Chmod(p, 0o444); err != nil {
					t.Fatal(err)
				}
			},
			list: want{0, ""},
			show: want{0, ""},
			del:  want{1, "read-only"},
		},
		{
			name:  "unknown study",
			setup: makeStudyDB,
			study: "resnet",
			list:  want{0, ""},
			show:  want{2, `no such study: "resnet"`},
			del:   want{2, `no such study: "resnet"`},
		},
	}
	for _, c := range cases {
		study := c.study
		if study == "" {
			study = "mlp"
		}
		for _, cmd := range []struct {
			args []string
			want want
		}{
			{[]string{"study", "list"}, c.list},
			{[]string{"study", "show", study}, c.show},
			{[]string{"study", "delete", study, "--yes"}, c.del},
		} {
			t.Run(c.name+"/"+cmd.args[1], func(t *testing.T) {
				file := c.file
				if file == "" {
					file = "s.db"
				}
				path := filepath.Join(t.TempDir(), file)
				c.setup(t, path)
				before := readFile(t, path)
				code, _, errOut := studyCLI(t, append([]string{"--db", path}, cmd.args...)...)
				if code != cmd.want.code {
					t.Fatalf("exit %d, want %d; stderr %q", code, cmd.want.code, errOut)
				}
				if cmd.want.msg == "" {
					if errOut != "" {
						t.Fatalf("stderr %q, want nothing", errOut)
					}
				} else {
					if strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "fhetune: ") {
						t.Fatalf("stderr is not one error line: %q", errOut)
					}
					if !strings.Contains(errOut, cmd.want.msg) {
						t.Fatalf("stderr %q lacks %q", errOut, cmd.want.msg)
					}
					if !strings.Contains(errOut, path) && !strings.Contains(errOut, filepath.Dir(path)) {
						t.Fatalf("stderr %q does not name the database", errOut)
					}
				}
				if !bytes.Equal(before, readFile(t, path)) {
					t.Fatal("the database file changed")
				}
			})
		}
	}
}
