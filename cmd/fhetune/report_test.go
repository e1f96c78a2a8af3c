package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/fhetune/fhetune/studies"
)

// Marker colours of the Pareto plot as its SVG writes them (report/style.go: colTrial,
// colFront).
const (
	svgTrialFill = "fill:#A9B8CC"
	svgFrontFill = "fill:#1F5FA8"
)

// reportCLI runs the command line and returns the exit code, stdout and stderr.
func reportCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestReportOfRealStudy runs a short real study of the default digits spec and writes
// its report: every plot in both formats, one marker per complete trial, the stored
// Pareto front in index.html, and the trial `study best` picks broken down by layer.
func TestReportOfRealStudy(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	base := t.TempDir()
	db := filepath.Join(base, "s.db")
	if code, _, errOut := reportCLI(t, "--db", db, "study", "start", "--trials", "8", "--seed", "1", "--name", "quick"); code != 0 {
		t.Fatalf("study start: exit %d: %s", code, errOut)
	}
	trials, front := storedTrials(t, db, "quick")
	var complete []studies.Trial
	for _, tr := range trials {
		if tr.State == studies.Complete {
			complete = append(complete, tr)
		}
	}
	if len(complete) < 3 || len(front) < 2 {
		t.Fatalf("the study has %d complete trials and %d on its front; the test wants at least 3 and 2", len(complete), len(front))
	}

	out := filepath.Join(base, "out")
	code, stdout, errOut := reportCLI(t, "--db", db, "report", "quick", "--out", out, "--json")
	if code != 0 || errOut != "" {
		t.Fatalf("report: exit %d, stderr %q", code, errOut)
	}
	var doc reportDoc
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("report --json printed %q: %v", stdout, err)
	}
	var want []string
	for _, stem := range []string{"pareto", "history", "knobs", "layers"} {
		want = append(want, filepath.Join(out, stem+".png"), filepath.Join(out, stem+".svg"))
	}
	want = append(want, filepath.Join(out, "index.html"))
	if doc.Out != out || !slices.Equal(doc.Files, want) {
		t.Fatalf("report --json = %+v, want out %s and files %v", doc, out, want)
	}
	if got := dirNames(t, out); len(got) != len(want) {
		t.Errorf("%s holds %v, want the %d files printed", out, got, len(want))
	}

	t.Run("png", func(t *testing.T) {
		for _, f := range want {
			if !strings.HasSuffix(f, ".png") {
				continue
			}
			img, err := png.Decode(bytes.NewReader(mustRead(t, f)))
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			b := img.Bounds()
			colours := map[[3]uint32]bool{}
			for y := b.Min.Y; y < b.Max.Y; y += 2 {
				for x := b.Min.X; x < b.Max.X; x += 2 {
					r, g, bl, _ := img.At(x, y).RGBA()
					colours[[3]uint32{r >> 8, g >> 8, bl >> 8}] = true
				}
			}
			if b.Dx() < 1000 || b.Dy() < 300 || len(colours) < 30 {
				t.Errorf("%s: %dx%d pixels, %d distinct colours; want a plot at 150 dpi with real content",
					f, b.Dx(), b.Dy(), len(colours))
			}
		}
	})

	t.Run("svg", func(t *testing.T) {
		pareto := mustRead(t, filepath.Join(out, "pareto.svg"))
		wellFormed(t, pareto)
		// One marker per complete trial and per front trial, plus one legend sample each.
		if n := bytes.Count(pareto, []byte(svgTrialFill)); n != len(complete)+1 {
			t.Errorf("pareto.svg: %d trial markers, want %d complete trials + 1 legend sample", n, len(complete))
		}
		if n := bytes.Count(pareto, []byte(svgFrontFill)); n != len(front)+1 {
			t.Errorf("pareto.svg: %d front markers, want %d (the stored front) + 1 legend sample", n, len(front))
		}
		for _, text := range []string{"quick: accuracy against latency", "fastest trial", "float model ("} {
			if !bytes.Contains(pareto, []byte(text)) {
				t.Errorf("pareto.svg does not say %q", text)
			}
		}
		for _, stem := range []string{"history", "knobs", "layers"} {
			wellFormed(t, mustRead(t, filepath.Join(out, stem+".svg")))
		}
		knobs := mustRead(t, filepath.Join(out, "knobs.svg"))
		for _, k := range []string{"n_w_bits", "n_a_bits", "pruning", "rounding_threshold_bits", "p_error"} {
			if !bytes.Contains(knobs, []byte(">"+k+"<")) {
				t.Errorf("knobs.svg has no panel for the searched knob %s", k)
			}
		}
		if bytes.Contains(knobs, []byte(">sparsity<")) {
			t.Error("knobs.svg has a panel for sparsity, which the default spec fixes at 0")
		}
	})

	t.Run("index.html", func(t *testing.T) {
		page := mustRead(t, filepath.Join(out, "index.html"))
		wellFormed(t, page)
		rows := frontRows(t, page)
		var got []string
		for _, r := range rows {
			got = append(got, r[0])
		}
		var wantRows []string
		for _, tr := range front {
			wantRows = append(wantRows, "#"+strconv.Itoa(tr.Number))
		}
		slices.Sort(got)
		slices.Sort(wantRows)
		if !slices.Equal(got, wantRows) {
			t.Errorf("front table lists trials %v, want the stored front %v", got, wantRows)
		}
		for _, r := range rows {
			if crypto := r[len(r)-2]; !strings.Contains(crypto, "k=") || !strings.Contains(crypto, "N=2^") {
				t.Errorf("front row %v: crypto sets %q, want sets such as k=1 N=2^11 ...", r, crypto)
			}
		}
		chosen := pickedTrial(t, db)
		if head := "Trial #" + strconv.Itoa(chosen) + " layer by layer"; !bytes.Contains(page, []byte(head)) {
			t.Errorf("index.html does not break down trial %d (what `study best` picks): no %q", chosen, head)
		}
	})

	t.Run("default out and formats", func(t *testing.T) {
		t.Chdir(t.TempDir())
		code, stdout, errOut := reportCLI(t, "--db", db, "report", "quick", "--format", "svg")
		want := []string{"quick-report/pareto.svg", "quick-report/history.svg", "quick-report/knobs.svg",
			"quick-report/layers.svg", "quick-report/index.html"}
		if code != 0 || errOut != "" || stdout != strings.Join(want, "\n")+"\n" {
			t.Fatalf("report --format svg: exit %d, stdout %q, stderr %q; want the files %v", code, stdout, errOut, want)
		}
		if got := dirNames(t, "quick-report"); len(got) != len(want) {
			t.Errorf("quick-report holds %v, want %d files", got, len(want))
		}
	})

	t.Run("bad input", func(t *testing.T) {
		file := filepath.Join(base, "file.txt")
		if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		missing := filepath.Join(base, "missing.db")
		for _, tc := range []struct {
			name string
			args []string
			code int
			says []string
		}{
			{"unknown study", []string{"--db", db, "report", "nope", "--out", filepath.Join(base, "x")}, 2, []string{`"nope"`}},
			{"missing database", []string{"--db", missing, "report", "quick", "--out", filepath.Join(base, "x")}, 1,
				[]string{missing, "does not exist"}},
			{"out is a file", []string{"--db", db, "report", "quick", "--out", file}, 2, []string{"--out", file, "not a directory"}},
			{"out under a file", []string{"--db", db, "report", "quick", "--out", filepath.Join(file, "r")}, 2,
				[]string{"--out", filepath.Join(file, "r")}},
			{"unknown format", []string{"--db", db, "report", "quick", "--out", filepath.Join(base, "x"), "--format", "png,pdf"}, 2,
				[]string{"--format", `"pdf"`}},
			{"no name", []string{"--db", db, "report"}, 2, []string{"arg"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				code, stdout, errOut := reportCLI(t, tc.args...)
				if code != tc.code || stdout != "" || !strings.HasPrefix(errOut, "fhetune: ") || strings.Count(errOut, "\n") != 1 {
					t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d and one error line", code, stdout, errOut, tc.code)
				}
				for _, s := range tc.says {
					if !strings.Contains(errOut, s) {
						t.Errorf("stderr %q does not say %q", errOut, s)
					}
				}
			})
		}
		if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("report created the missing database (stat: %v)", err)
		}
		if _, err := os.Stat(filepath.Join(base, "x")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a refused report created its folder (stat: %v)", err)
		}
	})
}

// TestReportOtherStudies reports a study without complete trials (an index.html that
// says so) and a study of another tool: objective values only, no spec, no per-layer
// results, no float accuracy.
func TestReportOtherStudies(t *testing.T) {
	base := t.TempDir()
	db := filepath.Join(base, "s.db")
	ctx := context.Background()
	s, err := studies.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	objs := []studies.Objective{{Name: "accuracy", Direction: studies.Maximize}, {Name: "latency_ms", Direction: studies.Minimize}}
	empty, err := s.CreateStudy(ctx, studies.NewStudy{Name: "empty", Objectives: objs})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := s.StartTrial(ctx, empty.ID, "w")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Fail(ctx, tr.ID, "boom"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StartTrial(ctx, empty.ID, "w"); err != nil {
		t.Fatal(err)
	}
	other, err := s.CreateStudy(ctx, studies.NewStudy{Name: "other", Spec: json.RawMessage(`{"tool": "elsewhere"}`), Objectives: objs})
	if err != nil {
		t.Fatal(err)
	}
	// (0.95, 300), (0.90, 120) and (0.80, 40) are the front; (0.85, 200) is dominated.
	for i, v := range [][]float64{{0.85, 200}, {0.95, 300}, {0.90, 120}, {0.80, 40}} {
		tr, err := s.StartTrial(ctx, other.ID, "w")
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
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	t.Run("no complete trials", func(t *testing.T) {
		out := filepath.Join(base, "empty-out")
		code, stdout, errOut := reportCLI(t, "--db", db, "report", "empty", "--out", out)
		if code != 0 || errOut != "" || stdout != filepath.Join(out, "index.html")+"\n" {
			t.Fatalf("exit %d, stdout %q, stderr %q; want index.html only", code, stdout, errOut)
		}
		page := mustRead(t, filepath.Join(out, "index.html"))
		wellFormed(t, page)
		for _, want := range []string{"No complete trials yet", "2 trials (1 fail, 1 running)"} {
			if !bytes.Contains(page, []byte(want)) {
				t.Errorf("index.html does not say %q", want)
			}
		}
	})

	t.Run("study of another tool", func(t *testing.T) {
		out := filepath.Join(base, "other-out")
		code, stdout, errOut := reportCLI(t, "--db", db, "report", "other", "--out", out, "--format", "svg")
		if code != 0 || errOut != "" {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
		// No per-layer data: no layers plot.
		want := []string{"history.svg", "index.html", "knobs.svg", "pareto.svg"}
		if got := dirNames(t, out); !slices.Equal(got, want) || strings.Count(stdout, "\n") != len(want) {
			t.Fatalf("files %v, stdout %q; want %v", got, stdout, want)
		}
		pareto := mustRead(t, filepath.Join(out, "pareto.svg"))
		if n := bytes.Count(pareto, []byte(svgFrontFill)); n != 3+1 {
			t.Errorf("pareto.svg: %d front markers, want 3 + 1 legend sample", n)
		}
		// Without a float accuracy, the picks are the most accurate and the fastest trial.
		page := mustRead(t, filepath.Join(out, "index.html"))
		if bytes.Contains(page, []byte("float model")) {
			t.Error("index.html shows a float model the study does not record")
		}
		var picks []string
		for _, r := range frontRows(t, page) {
			picks = append(picks, r[0]+": "+r[len(r)-1])
		}
		wantPicks := []string{"#3: fastest trial", "#2: ", "#1: most accurate trial"}
		if !slices.Equal(picks, wantPicks) {
			t.Errorf("front rows (trial: picked as) = %q, want %q", picks, wantPicks)
		}
	})
}

// storedTrials returns a study's trials and its stored Pareto front.
func storedTrials(t *testing.T, db, name string) ([]studies.Trial, []studies.Trial) {
	t.Helper()
	ctx := context.Background()
	s, err := studies.Open(ctx, db, studies.MustExist())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := s.Study(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	trials, err := s.Trials(ctx, st.ID, studies.TrialFilter{})
	if err != nil {
		t.Fatal(err)
	}
	front, err := s.ParetoFront(ctx, st.ID)
	if err != nil {
		t.Fatal(err)
	}
	return trials, front
}

// pickedTrial returns the trial the report breaks down: the first that `study best`
// picks with the study's rule, within 5% of float, or with no bound on latency (the
// most accurate trial).
func pickedTrial(t *testing.T, db string) int {
	t.Helper()
	for _, rule := range [][]string{nil, {"--max-accuracy-drop", "0.05"}, {"--max-latency-ms", "1e15"}} {
		code, stdout, _ := reportCLI(t, append([]string{"--db", db, "study", "best", "quick", "--json"}, rule...)...)
		if code != 0 {
			continue
		}
		var doc struct {
			Trial int `json:"trial"`
		}
		if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
			t.Fatalf("study best --json printed %q: %v", stdout, err)
		}
		return doc.Trial
	}
	t.Fatal("study best picks no trial with any rule")
	return -1
}

// wellFormed fails unless doc is well-formed XML (SVG, or the report's XHTML-style page).
func wellFormed(t *testing.T, doc []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = true
	for {
		_, err := d.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("not well-formed: %v", err)
		}
	}
}

var (
	rowRE  = regexp.MustCompile(`(?s)<tr[^>]*>(.*?)</tr>`)
	cellRE = regexp.MustCompile(`(?s)<td[^>]*>(.*?)</td>`)
	tagRE  = regexp.MustCompile(`<[^>]+>`)
)

// frontRows returns the cells (tags stripped) of each body row of index.html's front
// table.
func frontRows(t *testing.T, page []byte) [][]string {
	t.Helper()
	s := string(page)
	i := strings.Index(s, `id="front"`)
	if i < 0 {
		t.Fatal("index.html has no front table")
	}
	s = s[i:]
	s = s[:strings.Index(s, "</table>")]
	var rows [][]string
	for _, m := range rowRE.FindAllStringSubmatch(s, -1) {
		cells := cellRE.FindAllStringSubmatch(m[1], -1)
		if len(cells) == 0 {
			continue // the header
		}
		var row []string
		for _, c := range cells {
			row = append(row, strings.TrimSpace(tagRE.ReplaceAllString(c[1], " ")))
		}
		rows = append(rows, row)
	}
	return rows
}

// dirNames lists the names in dir, sorted.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// mustRead returns the bytes of the file at path.
func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReportCompare reports a study with the stored Pareto fronts of others drawn on its
// plot and listed in index.html, and refuses comparisons that cannot be drawn.
func TestReportCompare(t *testing.T) {
	base := t.TempDir()
	db := filepath.Join(base, "s.db")
	ctx := context.Background()
	s, err := studies.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	acc := studies.Objective{Name: "accuracy", Direction: studies.Maximize}
	lat := studies.Objective{Name: "latency_ms", Direction: studies.Minimize}
	for _, st := range []struct {
		name   string
		objs   []studies.Objective
		values [][]float64 // one complete trial each
	}{
		// Fronts: qat #1, #2, #3; ptq #0, #1; ptq-lite (values in the order latency,
		// accuracy) #0, #1.
		{"qat", []studies.Objective{acc, lat}, [][]float64{{0.85, 200}, {0.95, 300}, {0.90, 120}, {0.80, 40}}},
		{"ptq", []studies.Objective{acc, lat}, [][]float64{{0.70, 15}, {0.88, 500}, {0.60, 90}}},
		{"ptq-lite", []studies.Objective{lat, acc}, [][]float64{{25, 0.75}, {60, 0.91}}},
		{"pending", []studies.Objective{acc, lat}, nil},
		{"energy", []studies.Objective{acc, {Name: "energy_j", Direction: studies.Minimize}}, [][]float64{{0.9, 3}}},
		{"three", []studies.Objective{acc, lat, {Name: "pbs_count", Direction: studies.Minimize}}, [][]float64{{0.9, 50, 30}}},
		{"flipped", []studies.Objective{{Name: "accuracy", Direction: studies.Minimize}, lat}, [][]float64{{0.9, 50}}},
	} {
		created, err := s.CreateStudy(ctx, studies.NewStudy{Name: st.name, Objectives: st.objs})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range st.values {
			tr, err := s.StartTrial(ctx, created.ID, "w")
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Complete(ctx, tr.ID, v, nil); err != nil {
				t.Fatal(err)
			}
		}
		if st.values == nil {
			if _, err := s.StartTrial(ctx, created.ID, "w"); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	out := filepath.Join(base, "out")
	code, stdout, errOut := reportCLI(t, "--db", db, "report", "qat", "--out", out, "--format", "svg",
		"--compare", "ptq,ptq-lite", "--compare", "pending")
	if code != 0 || errOut != "" {
		t.Fatalf("report --compare: exit %d, stdout %q, stderr %q", code, stdout, errOut)
	}
	// No knobs or per-layer data: no knobs or layers plot.
	if got, want := dirNames(t, out), []string{"history.svg", "index.html", "pareto.svg"}; !slices.Equal(got, want) {
		t.Fatalf("files %v, want %v", got, want)
	}
	pareto := mustRead(t, filepath.Join(out, "pareto.svg"))
	wellFormed(t, pareto)
	for _, text := range []string{">front of ptq (2)<", ">front of ptq-lite (2)<", ">Pareto front (3)<",
		">20 ms<"} { // the axis reaches ptq's 15 ms; qat alone starts at 30 ms
		if !bytes.Contains(pareto, []byte(text)) {
			t.Errorf("pareto.svg does not say %q", text)
		}
	}
	if bytes.Contains(pareto, []byte("front of pending")) {
		t.Error("pareto.svg has a legend entry for a study without a front")
	}
	if n := bytes.Count(pareto, []byte(svgTrialFill)); n != 4+1 {
		t.Errorf("pareto.svg: %d trial markers, want qat's 4 + 1 legend sample", n)
	}
	page := mustRead(t, filepath.Join(out, "index.html"))
	wellFormed(t, page)
	for _, line := range []string{
		"<li>Compared with ptq: 2 trials on its Pareto front, best accuracy 0.8800.</li>",
		"<li>Compared with ptq-lite: 2 trials on its Pareto front, best accuracy 0.9100.</li>",
		"<li>Compared with pending: no complete trials yet.</li>",
	} {
		if !bytes.Contains(page, []byte(line)) {
			t.Errorf("index.html does not say %q", line)
		}
	}

	// The flag repeated says the same as a comma-separated list.
	again := filepath.Join(base, "again")
	if code, _, errOut := reportCLI(t, "--db", db, "report", "qat", "--out", again, "--format", "svg",
		"--compare", "ptq", "--compare", "ptq-lite", "--compare", "pending"); code != 0 {
		t.Fatalf("report with --compare repeated: exit %d, stderr %q", code, errOut)
	}
	for _, name := range []string{"pareto.svg", "index.html"} {
		if !bytes.Equal(mustRead(t, filepath.Join(out, name)), mustRead(t, filepath.Join(again, name))) {
			t.Errorf("%s differs between --compare a,b,c and --compare a --compare b --compare c", name)
		}
	}

	t.Run("bad input", func(t *testing.T) {
		for _, tc := range []struct {
			name    string
			compare []string
			says    []string
		}{
			{"unknown study", []string{"ptq,nope"}, []string{`report: --compare: no study "nope"`, db}},
			{"the study itself", []string{"qat"}, []string{"--compare", `"qat" is the study being reported`}},
			{"a study twice", []string{"ptq", "ptq"}, []string{"--compare", `"ptq" given twice`}},
			{"empty name", []string{"ptq,,ptq-lite"}, []string{"--compare: empty study name"}},
			{"other objectives", []string{"energy"}, []string{"--compare", `"energy"`, "minimize energy_j", "maximize accuracy, minimize latency_ms"}},
			{"a third objective", []string{"three"}, []string{"--compare", `"three"`, "pbs_count"}},
			{"other directions", []string{"flipped"}, []string{"--compare", `"flipped"`, "minimize accuracy"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				dir := filepath.Join(base, "bad")
				args := []string{"--db", db, "report", "qat", "--out", dir}
				for _, c := range tc.compare {
					args = append(args, "--compare", c)
				}
				code, stdout, errOut := reportCLI(t, args...)
				if code != 2 || stdout != "" || !strings.HasPrefix(errOut, "fhetune: ") || strings.Count(errOut, "\n") != 1 {
					t.Fatalf("exit %d, stdout %q, stderr %q; want exit 2 and one error line", code, stdout, errOut)
				}
				for _, s := range tc.says {
					if !strings.Contains(errOut, s) {
						t.Errorf("stderr %q does not say %q", errOut, s)
					}
				}
				if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("a refused report created its folder (stat: %v)", err)
				}
			})
		}
	})
}
