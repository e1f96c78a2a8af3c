package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/fhetune/fhetune/studies"
	"github.com/fhetune/fhetune/tuner"
)

// TestStudyStartBadInput: bad specs, flags, data and model files are refused with exit
// code 2 and one line naming the problem, before a database is created.
func TestStudyStartBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	malformed := write("malformed.yaml", "name: x\nspace:\n  n_w_bits: [2, 8\n")
	unknown := write("unknown.yaml", "name: x\ntrials: 5\nsampler:\n  name: nsga2\n  populaton: 4\n")
	inverted := write("inverted.yaml", "space:\n  pruning: [0.6, 0.2]\n")
	empty := write("empty.yaml", "space:\n  n_a_bits: []\n")
	method := write("method.yaml", "space:\n  n_w_bits: [2, 6]\n  rounding_method: [exact, fast]\n")
	conflict := write("conflict.yaml", "space:\n  rounding_threshold_bits: {n_bits: 6, method: approximate}\n  rounding_method: exact\n")
	rounding := write("rounding.yaml", "space:\n  rounding_threshold_bits: [1, 8]\n")
	junkModel := write("junk.fhtm", "not a model")
	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"malformed YAML", []string{"--spec", malformed}, []string{malformed, "line 3", "did not find expected"}},
		{"unknown key", []string{"--spec", unknown}, []string{unknown, "line 5", `unknown key "populaton"`}},
		{"low above high", []string{"--spec", inverted}, []string{"line 2", "space.pruning", "low above high"}},
		{"empty range", []string{"--spec", empty}, []string{"line 2", "space.n_a_bits", "empty range"}},
		{"missing spec", []string{"--spec", filepath.Join(dir, "none.yaml")}, []string{"none.yaml", "cannot read"}},
		{"unknown method", []string{"--spec", method}, []string{method, "line 3", "space.rounding_method", `unknown method "fast"`}},
		{"conflicting method", []string{"--spec", conflict}, []string{conflict, "line 2", "space.rounding_threshold_bits.method", "conflicts"}},
		{"rounding below 2", []string{"--spec", rounding}, []string{rounding, "line 2", "[1, 8]: 1 is outside 2..8"}},
		{"flag range", []string{"--n-w-bits", "9,4"}, []string{"space.n_w_bits", "low above high"}},
		{"flag method", []string{"--rounding-method", "fast"}, []string{"--rounding-method", `unknown method "fast"`, "want exact, approximate or both"}},
		{"flag method twice", []string{"--rounding-method", "exact,exact"}, []string{"--rounding-method", "given twice"}},
		{"flag rounding 9", []string{"--rounding-threshold-bits", "9"}, []string{"space.rounding_threshold_bits", "9 is outside 2..8"}},
		{"flag rounding 1", []string{"--rounding-threshold-bits", "1,8,off"}, []string{"1 is outside 2..8"}},
		{"flag rounding method conflict", []string{"--rounding-threshold-bits", "{n_bits: 6, method: exact}", "--rounding-method", "approximate"},
			[]string{"space.rounding_threshold_bits.method", "conflicts"}},
		{"flag range syntax", []string{"--p-error", "1e-5,lots"}, []string{"--p-error", "not a finite number"}},
		{"both p_errors", []string{"--p-error", "0.01", "--global-p-error", "0.1"}, []string{"not both"}},
		{"trials", []string{"--trials", "0"}, []string{"--trials 0"}},
		{"workers", []string{"--workers", "-1"}, []string{"--workers -1"}},
		{"sampler", []string{"--sampler", "annealing"}, []string{`unknown sampler "annealing"`}},
		{"cost", []string{"--cost", "seconds"}, []string{"fhe.cost", `"seconds"`, "want ms or complexity"}},
		{"pruner", []string{"--pruner", "hyperband"}, []string{`unknown pruner "hyperband"`}},
		{"sweep", []string{"--sweep", "0"}, []string{"--sweep 0: want 1"}},
		{"grid sweep", []string{"--sampler", "grid", "--sweep", "2"}, []string{"sampler.sweep: 2: grid search"}},
		{"pruner without qat", []string{"--training", "ptq", "--pruner", "median"}, []string{"pruner", "needs training qat"}},
		{"objective", []string{"--objectives", "accuracy,speed"}, []string{`unknown objective "speed"`}},
		{"data set", []string{"--dataset", "csv:" + filepath.Join(dir, "none.csv")}, []string{"none.csv"}},
		{"model file", []string{"--model-file", junkModel}, []string{"junk.fhtm"}},
		{"model spec", []string{"--model", "mlp:0"}, []string{"model.spec"}},
		{"argument", []string{"extra"}, []string{"unknown command", "extra"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			db := filepath.Join(dir, "never.db")
			code, out, errOut := studyCLI(t, append([]string{"--db", db, "study", "start"}, c.args...)...)
			if code != 2 || out != "" || !strings.HasPrefix(errOut, "fhetune: ") || strings.Count(errOut, "\n") != 1 {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
			}
			for _, w := range c.want {
				if !strings.Contains(errOut, w) {
					t.Fatalf("stderr %q does not name %q", errOut, w)
				}
			}
			if _, err := os.Stat(db); !os.IsNotExist(err) {
				t.Fatalf("bad input created the database (stat: %v)", err)
			}
		})
	}
}

// TestStudyStartResumeBestExport runs a small default study through the CLI, grows it
// with resume, refuses a conflicting spec, and reads it back with best, export and
// export-config.
func TestStudyStartResumeBestExport(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "s.db")
	code, out, errOut := studyCLI(t, "--db", db, "study", "start", "--trials", "6")
	if code != 0 {
		t.Fatalf("study start: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, w := range []string{"study default: 6 of 6 trials done", "Pareto front (", "TRIAL  ACCURACY  LATENCY_MS  N_W_BITS",
		"report: fhetune --db " + db + " report default --out default-report"} {
		if !strings.Contains(out, w) {
			t.Fatalf("stdout lacks %q:\n%s", w, out)
		}
	}
	// Not a terminal: one plain line per trial, then no escape codes.
	if strings.Count(errOut, "\ntrial ") != 6 || strings.Contains(errOut, "\033[") || !strings.Contains(errOut, "6/6") {
		t.Fatalf("progress on stderr:\n%s", errOut)
	}

	// Resume to 9 trials, as JSON.
	code, out, errOut = studyCLI(t, "--db", db, "study", "resume", "default", "--trials", "9", "--json")
	if code != 0 {
		t.Fatalf("study resume: exit %d\n%s\n%s", code, out, errOut)
	}
	var doc studyOutcome
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("resume --json: %v\n%s", err, out)
	}
	if doc.Done != 9 || doc.Ran != 3 || doc.Target != 9 || len(doc.Front) == 0 || doc.ResumeCommand != "" ||
		doc.FloatAccuracy < 0.9 || doc.Front[0].Values["accuracy"] <= 0 {
		t.Fatalf("resume outcome %+v", doc)
	}
	if strings.Count(errOut, "\ntrial ") != 3 {
		t.Fatalf("resume ran other trials than 6, 7, 8:\n%s", errOut)
	}
	// Starting it again has nothing to do; a different space under the same name is refused.
	code, out, _ = studyCLI(t, "--db", db, "study", "start", "--trials", "9")
	if code != 0 || !strings.Contains(out, "9 of 9 trials done") {
		t.Fatalf("start of a finished study: exit %d\n%s", code, out)
	}
	code, _, errOut = studyCLI(t, "--db", db, "study", "start", "--n-w-bits", "2,4")
	if code != 2 || !strings.Contains(errOut, "differs in space") || !strings.Contains(errOut, "fhetune --db "+db+" study resume default") {
		t.Fatalf("conflicting start: exit %d, %q", code, errOut)
	}
	code, _, errOut = studyCLI(t, "--db", db, "study", "resume", "nosuch")
	if code != 2 || !strings.Contains(errOut, "no such study") {
		t.Fatalf("resume of an unknown study: exit %d, %q", code, errOut)
	}

	// best: text and JSON agree, and the trial is within the drop asked for.
	code, out, errOut = studyCLI(t, "--db", db, "study", "best", "default", "--max-accuracy-drop", "0.5", "--json")
	if code != 0 {
		t.Fatalf("study best: exit %d, %s", code, errOut)
	}
	var best studyBestDoc
	if err := json.Unmarshal([]byte(out), &best); err != nil {
		t.Fatal(err)
	}
	if best.AccuracyDrop == nil || *best.AccuracyDrop > 0.5 || best.Rule != "fastest trial within 50% of float accuracy" ||
		!strings.HasSuffix(best.ConfigCommand, "study export-config default --trial "+strconv.Itoa(best.Trial)) {
		t.Fatalf("best %+v", best)
	}
	code, out, _ = studyCLI(t, "--db", db, "study", "best", "default", "--max-accuracy-drop", "0.5")
	if code != 0 || !strings.HasPrefix(out, "trial "+strconv.Itoa(best.Trial)+": accuracy ") || !strings.Contains(out, "knobs: n_w_bits=") {
		t.Fatalf("best text: exit %d\n%s", code, out)
	}
	code, _, errOut = studyCLI(t, "--db", db, "study", "best", "default", "--max-latency-ms", "0.001")
	if code != 1 || !strings.Contains(errOut, "no trial meets the rule") {
		t.Fatalf("impossible latency: exit %d, %q", code, errOut)
	}
	code, _, errOut = studyCLI(t, "--db", db, "study", "best", "default", "--max-latency-ms", "5", "--max-accuracy-drop", "0.1")
	if code != 2 || !strings.Contains(errOut, "not both") {
		t.Fatalf("two rules: exit %d, %q", code, errOut)
	}

	// export: every trial, as CSV and as JSON (to a file).
	code, out, _ = studyCLI(t, "--db", db, "study", "export", "default", "--format", "csv")
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if code != 0 || err != nil || len(rows) != 10 {
		t.Fatalf("export csv: exit %d, %v, %d rows", code, err, len(rows))
	}
	head := strings.Join(rows[0], ",")
	for _, col := range []string{"number,state,accuracy,latency_ms,n_w_bits,n_a_bits,n_input_bits,pruning,sparsity,rounding_threshold_bits,rounding_method,p_error,training,power_of_two_scaling,error",
		"float_accuracy", "pbs_count", "layers", "eval_ms"} {
		if !strings.Contains(head, col) {
			t.Fatalf("csv header lacks %q: %s", col, head)
		}
	}
	jsonPath := filepath.Join(dir, "trials.json")
	code, _, errOut = studyCLI(t, "--db", db, "study", "export", "default", "--format", "json", "--out", jsonPath)
	if code != 0 || !strings.Contains(errOut, "wrote 9 trials") {
		t.Fatalf("export json: exit %d, %q", code, errOut)
	}
	var exp exportDoc
	b, _ := os.ReadFile(jsonPath)
	if err := json.Unmarshal(b, &exp); err != nil || len(exp.Trials) != 9 || exp.Trials[8].Number != 8 ||
		exp.Trials[0].Params["n_w_bits"] == nil || len(exp.Objectives) != 2 {
		t.Fatalf("export json: %v, %+v", err, exp)
	}
	code, _, errOut = studyCLI(t, "--db", db, "study", "export", "default", "--format", "xml")
	if code != 2 || !strings.Contains(errOut, `--format "xml"`) {
		t.Fatalf("export xml: exit %d, %q", code, errOut)
	}

	// export-config of the best trial.
	code, out, errOut = studyCLI(t, "--db", db, "study", "export-config", "default", "--trial", strconv.Itoa(best.Trial))
	if code != 0 {
		t.Fatalf("export-config: exit %d, %s", code, errOut)
	}
	var cfg tuner.ConcreteConfig
	if err := json.Unmarshal([]byte(out), &cfg); err != nil || cfg.Trial != best.Trial || cfg.CompileArgs.NBits == nil ||
		cfg.Configuration.SecurityLevel != 128 || len(cfg.Pruning.WidthsBefore) != 2 {
		t.Fatalf("export-config: %v\n%s", err, out)
	}
	for _, bad := range [][]string{{"--trial", "99"}, {"--trial", "-2"}, {}} {
		code, _, errOut = studyCLI(t, append([]string{"--db", db, "study", "export-config", "default"}, bad...)...)
		if code != 2 || strings.Count(errOut, "\n") != 1 {
			t.Fatalf("export-config %v: exit %d, %q", bad, code, errOut)
		}
	}
}

// TestStudyStartRoundingMethod runs a grid study over both rounding methods through the
// CLI (digits, the other knobs fixed) and reads the methods back by name in the progress
// lines, the front table, study show, export (CSV and JSON), best, the report and
// export-config of an approximate trial.
func TestStudyStartRoundingMethod(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "s.db")
	code, out, errOut := studyCLI(t, "--db", db, "study", "start", "--name", "methods", "--sampler", "grid", "--trials", "10",
		"--n-w-bits", "4", "--n-a-bits", "4", "--n-input-bits", "4", "--training", "ptq", "--pruning", "0", "--p-error", "0.01",
		"--rounding-threshold-bits", "5,6", "--rounding-method", "both")
	if code != 0 {
		t.Fatalf("study start: exit %d\n%s\n%s", code, out, errOut)
	}
	// 2 widths × 2 methods; the progress lines name the method (it is searched).
	if !strings.Contains(out, "4 of 4 trials done") || strings.Count(errOut, "\ntrial ") != 4 ||
		strings.Count(errOut, "rounding_method=exact)") != 2 || strings.Count(errOut, "rounding_method=approximate)") != 2 {
		t.Fatalf("progress:\n%s\n%s", errOut, out)
	}
	// Approximate rounding pays no bit extraction: the fastest trial, on the front, uses it.
	if !strings.Contains(out, "ROUNDING_METHOD") || !strings.Contains(out, "approximate") {
		t.Fatalf("front table:\n%s", out)
	}

	code, out, _ = studyCLI(t, "--db", db, "study", "show", "methods", "--json")
	var show struct {
		Front []struct {
			Knobs map[string]any `json:"knobs"`
		} `json:"front"`
	}
	if err := json.Unmarshal([]byte(out), &show); err != nil || code != 0 || len(show.Front) == 0 {
		t.Fatalf("study show --json: exit %d, %v\n%s", code, err, out)
	}
	for _, f := range show.Front {
		if m := f.Knobs["rounding_method"]; m != "exact" && m != "approximate" {
			t.Fatalf("study show --json front knobs %v", f.Knobs)
		}
	}
	code, out, _ = studyCLI(t, "--db", db, "study", "show", "methods")
	if code != 0 || !strings.Contains(out, "rounding_method=approximate") {
		t.Fatalf("study show: exit %d\n%s", code, out)
	}

	code, out, _ = studyCLI(t, "--db", db, "study", "export", "methods", "--format", "csv")
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if code != 0 || err != nil || len(rows) != 5 {
		t.Fatalf("export csv: exit %d, %v, %d rows", code, err, len(rows))
	}
	col := slices.Index(rows[0], "rounding_method")
	if col < 0 || rows[0][col-1] != "rounding_threshold_bits" {
		t.Fatalf("csv header %v", rows[0])
	}
	count := map[string]int{}
	for _, r := range rows[1:] {
		count[r[col]]++
	}
	if count["exact"] != 2 || count["approximate"] != 2 {
		t.Fatalf("csv rounding_method column %v", count)
	}

	code, out, _ = studyCLI(t, "--db", db, "study", "export", "methods", "--format", "json")
	var exp exportDoc
	if err := json.Unmarshal([]byte(out), &exp); err != nil || code != 0 || len(exp.Trials) != 4 {
		t.Fatalf("export json: exit %d, %v", code, err)
	}
	approximate := -1
	for _, tr := range exp.Trials {
		switch tr.Params["rounding_method"] {
		case "approximate":
			approximate = tr.Number
		case "exact":
		default:
			t.Fatalf("export json trial %d params %v", tr.Number, tr.Params)
		}
	}

	code, out, _ = studyCLI(t, "--db", db, "study", "best", "methods", "--max-accuracy-drop", "1", "--json")
	var best studyBestDoc
	if err := json.Unmarshal([]byte(out), &best); err != nil || code != 0 || best.Knobs["rounding_method"] != "approximate" {
		t.Fatalf("best (the fastest trial): exit %d, %v, %+v", code, err, best)
	}

	// export-config of an approximate trial: Concrete ML's dict form.
	code, out, errOut = studyCLI(t, "--db", db, "study", "export-config", "methods", "--trial", strconv.Itoa(approximate))
	if code != 0 {
		t.Fatalf("export-config: exit %d, %s", code, errOut)
	}
	var cfg struct {
		CompileArgs struct {
			RoundingThresholdBits map[string]any `json:"rounding_threshold_bits"`
		} `json:"compile_args"`
	}
	if err := json.Unmarshal([]byte(out), &cfg); err != nil {
		t.Fatal(err)
	}
	rtb := cfg.CompileArgs.RoundingThresholdBits
	if len(rtb) != 2 || rtb["method"] != "APPROXIMATE" || (rtb["n_bits"] != 5.0 && rtb["n_bits"] != 6.0) {
		t.Fatalf("export-config rounding_threshold_bits %v:\n%s", rtb, out)
	}

	// The report plots the method by name.
	rep := filepath.Join(dir, "report")
	code, _, errOut = studyCLI(t, "--db", db, "report", "methods", "--out", rep, "--format", "svg")
	if code != 0 {
		t.Fatalf("report: exit %d, %s", code, errOut)
	}
	knobs, err := os.ReadFile(filepath.Join(rep, "knobs.svg"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{">rounding_method<", ">exact<", ">approximate<"} {
		if !strings.Contains(string(knobs), w) {
			t.Errorf("knobs.svg does not say %s", w)
		}
	}
}

const cliChildArgs = "FHETUNE_CLI_CHILD_ARGS"

// TestStudyCLIChild is the fhetune process TestStudyStartSignals starts: it runs the
// command line given in the environment and exits with its code.
func TestStudyCLIChild(t *testing.T) {
	raw := os.Getenv(cliChildArgs)
	if raw == "" {
		t.Skip("run by TestStudyStartSignals")
	}
	var args []string
	if err := json.Unmarshal([]byte(raw), &args); err != nil {
		t.Fatal(err)
	}
	os.Exit(run(args, os.Stdout, os.Stderr))
}

// startCLI starts fhetune (this test binary as TestStudyCLIChild) with args and returns
// it with a scanner over its stderr.
func startCLI(t *testing.T, args ...string) (*exec.Cmd, *bufio.Scanner, *strings.Builder) {
	t.Helper()
	raw, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^TestStudyCLIChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), cliChildArgs+"="+string(raw))
	var stdout strings.Builder
	cmd.Stdout = &stdout
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, bufio.NewScanner(pipe), &stdout
}

// waitTrials reads stderr lines until n trials have ended and returns the lines read.
func waitTrials(t *testing.T, sc *bufio.Scanner, n int) []string {
	t.Helper()
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if strings.HasPrefix(sc.Text(), "trial ") {
			if n--; n == 0 {
				return lines
			}
		}
	}
	t.Fatalf("the child ended before its trials:\n%s", strings.Join(lines, "\n"))
	return nil
}

// TestStudyStartSignals interrupts `study start` with Ctrl-C (SIGINT): it stops
// starting trials, prints the front and the resume command and exits 1; then kills
// another run with SIGKILL. `study resume` completes the study both times, keeping
// every complete trial.
func TestStudyStartSignals(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "sig.db")
	cmd, sc, stdout := startCLI(t, "--db", db, "study", "start", "--trials", "200", "--stale-after", "5s")
	waitTrials(t, sc, 3)
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	var rest []string
	for sc.Scan() {
		rest = append(rest, sc.Text())
	}
	err := cmd.Wait()
	tail := strings.Join(rest, "\n")
	var ee *exec.ExitError
	if !errorsAs(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("after SIGINT: %v\n%s", err, tail)
	}
	want := "resume with: fhetune --db " + db + " study resume default"
	if !strings.Contains(tail, "stopping: no new trials") || !strings.Contains(tail, "fhetune: interrupted: study \"default\" has ") ||
		!strings.Contains(tail, want) || !strings.Contains(stdout.String(), "Pareto front") {
		t.Fatalf("after SIGINT, stderr:\n%s\nstdout:\n%s", tail, stdout.String())
	}
	before := completeTrials(t, db)
	if len(before) < 3 || len(before) > 20 {
		t.Fatalf("%d complete trials after the interrupt", len(before))
	}

	// SIGKILL while trials run, then resume to completion.
	cmd, sc, _ = startCLI(t, "--db", db, "study", "resume", "default", "--trials", strconv.Itoa(len(before)+30))
	waitTrials(t, sc, 2)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	afterKill := completeTrials(t, db)
	for n, text := range before {
		if afterKill[n] != text {
			t.Fatalf("trial %d changed by the killed run: %q -> %q", n, text, afterKill[n])
		}
	}
	target := len(before) + 30
	code, out, errOut := studyCLI(t, "--db", db, "study", "resume", "default", "--json")
	if code != 0 {
		t.Fatalf("resume after SIGKILL: exit %d\n%s", code, errOut)
	}
	var doc studyOutcome
	if err := json.Unmarshal([]byte(out), &doc); err != nil || doc.Done != target || doc.Target != target {
		t.Fatalf("resume after SIGKILL: %v %+v", err, doc)
	}
	final := completeTrials(t, db)
	for n, text := range afterKill {
		if final[n] != text {
			t.Fatalf("complete trial %d lost or changed by resume", n)
		}
	}
}

func errorsAs(err error, target **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	if ok {
		*target = e
	}
	return ok
}

// completeTrials returns the study's complete trials as text, by number.
func completeTrials(t *testing.T, path string) map[int]string {
	t.Helper()
	ts := defaultTrials(t, path, studies.TrialFilter{States: []studies.State{studies.Complete}})
	m := map[int]string{}
	for _, tr := range ts {
		b, _ := json.Marshal(struct {
			P []studies.Param
			V []float64
		}{tr.Params, tr.Values})
		m[tr.Number] = string(b)
	}
	return m
}

// defaultTrials returns the trials of study "default" in the database db that filter
// selects, by number.
func defaultTrials(t *testing.T, db string, filter studies.TrialFilter) []studies.Trial {
	t.Helper()
	ctx := context.Background()
	s, err := studies.Open(ctx, db, studies.MustExist())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := s.Study(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	ts, err := s.Trials(ctx, st.ID, filter)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}
