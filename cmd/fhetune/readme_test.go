package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/fhetune/fhetune/atomicfile"
	"github.com/fhetune/fhetune/fhe/calibration"
	"gonum.org/v1/gonum/stat"
)

// update makes TestREADMETranscripts rewrite README.md's transcripts with what the
// commands print now instead of comparing them.
var update = flag.Bool("update", false, "rewrite the example transcripts of README.md with the commands' current output")

const (
	readmeFile       = "../../README.md"
	readmeRegenerate = "go test ./cmd/fhetune -run README -update"
)

// transcript is one example in README.md: a fenced code block whose first line is
// "$ fhetune ARGS" (continued by lines ending in " \"), followed by what the command
// prints on stdout.
type transcript struct {
	line   int      // 1-based README line of "$ fhetune"
	first  int      // 0-based index of the first output line
	end    int      // 0-based index of the closing fence
	args   []string // the command line after "fhetune"
	output []string // the README's output lines
}

// readmeTranscripts finds the transcripts among the fenced code blocks of lines.
func readmeTranscripts(lines []string) ([]transcript, error) {
	var ts []transcript
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "```") {
			continue
		}
		open := i
		end := open + 1
		for end < len(lines) && !strings.HasPrefix(lines[end], "```") {
			end++
		}
		if end == len(lines) {
			return nil, fmt.Errorf("README.md:%d: code block never closed", open+1)
		}
		i = end
		if open+1 == end || !strings.HasPrefix(lines[open+1], "$ fhetune ") {
			continue
		}
		t := transcript{line: open + 2, end: end}
		cmd := strings.TrimPrefix(lines[open+1], "$ fhetune ")
		j := open + 2
		for strings.HasSuffix(cmd, `\`) && j < end {
			cmd = strings.TrimSuffix(cmd, `\`) + " " + lines[j]
			j++
		}
		if strings.ContainsAny(cmd, "'\"`$|&;<>*?()\\") {
			return nil, fmt.Errorf("README.md:%d: the test splits transcripts at spaces; this one needs a shell: %s", t.line, cmd)
		}
		t.args = strings.Fields(cmd)
		t.first = j
		t.output = lines[j:end]
		ts = append(ts, t)
	}
	return ts, nil
}

// wallClock matches what the clock measures rather than the command computes, which a
// transcript cannot pin, with what replaces it: Go durations (4m26s, 1.5s, 230ms; always
// without a space, so the "5865.6 ms" of a latency estimate is compared) and the values
// of JSON fields timed by the clock.
var wallClock = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`\b[0-9]+(\.[0-9]+)?(h|m|s|ms|µs|us|ns)([0-9]+(\.[0-9]+)?(h|m|s|ms|µs|us|ns))*\b`), "<wall-clock>"},
	{regexp.MustCompile(`("(?:elapsed_s|train_seconds|keygen_ms|latency_ms_measured|measured_ms|measured_all_cores_ms)": )-?[0-9][0-9.e+-]*`), "${1}<wall-clock>"},
}

// maskLine replaces the wall-clock fields of a line. A line with such a field has its runs
// of spaces collapsed too, since a duration's width moves tabwriter's columns.
func maskLine(s string) string {
	s = strings.TrimRight(s, " \t")
	masked := false
	for _, m := range wallClock {
		if m.re.MatchString(s) {
			s = m.re.ReplaceAllString(s, m.with)
			masked = true
		}
	}
	if masked {
		s = strings.Join(strings.Fields(s), " ")
	}
	return s
}

func TestREADMEMask(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"calibrated 57 sets in 4m26s", "calibrated 57 sets in <wall-clock>"},
		{"[####] 3/8 k=1 N=2^11   12s", "[####] 3/8 k=1 N=2^11 <wall-clock>"},
		{`  "elapsed_s": 1.234,`, `"elapsed_s": <wall-clock>,`},
		{`  "train_seconds": 2.5e-01`, `"train_seconds": <wall-clock>`},
		// Computed figures stay: estimates with a space before the unit, parameters, hashes.
		{"latency             5865.6 ms per sample", "latency             5865.6 ms per sample"},
		{"k=1 N=2^11 n=815 br=2x15 ks=8x2   0.0099", "k=1 N=2^11 n=815 br=2x15 ks=8x2   0.0099"},
		{"digits_mlp_64,64_seed1_v2-1_ae70e4477e5b.fhtm", "digits_mlp_64,64_seed1_v2-1_ae70e4477e5b.fhtm"},
		{`  "latency_ms": 5865.6,`, `  "latency_ms": 5865.6,`},
	} {
		if got := maskLine(c.in); got != c.want {
			t.Errorf("maskLine(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestREADMETranscripts runs every transcript of README.md in-process, with a temporary
// --db, home, cache and working folder, and compares stdout with the README line by line,
// wall-clock fields masked. The model cache is shared, so a default model trains once.
// With -update it writes the output into README.md instead.
func TestREADMETranscripts(t *testing.T) {
	path, lines := readREADME(t)
	ts, err := readmeTranscripts(lines)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) == 0 {
		t.Fatal("README.md has no transcript (a code block starting with \"$ fhetune \")")
	}

	tmp := t.TempDir()
	home := filepath.Join(tmp, "home")
	t.Setenv("HOME", home)
	t.Setenv("XDG_CACHE_HOME", filepath.Join(home, ".cache"))
	t.Setenv("FHETUNE_DB", "")
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())

	got := make([][]string, len(ts))
	for i, tr := range ts {
		for _, a := range tr.args {
			if a == "--db" || strings.HasPrefix(a, "--db=") {
				t.Fatalf("README.md:%d: a transcript may not name --db (the test gives a temporary one)", tr.line)
			}
		}
		db := filepath.Join(tmp, fmt.Sprintf("readme%d.db", i))
		code, out, errs := runCLI(t, append([]string{"--db", db}, tr.args...)...)
		if code != 0 {
			t.Fatalf("README.md:%d: fhetune %s: exit %d, stderr:\n%s", tr.line, strings.Join(tr.args, " "), code, errs)
		}
		out = strings.ReplaceAll(out, cache, "~/.cache")
		for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			got[i] = append(got[i], strings.TrimRight(l, " \t"))
		}
	}

	if *update {
		var b []string
		last := 0
		for i, tr := range ts {
			b = append(b, lines[last:tr.first]...)
			b = append(b, got[i]...)
			last = tr.end
		}
		b = append(b, lines[last:]...)
		if err := atomicfile.Write(path, []byte(strings.Join(b, "\n"))); err != nil {
			t.Fatal(err)
		}
		t.Logf("rewrote %d transcripts in %s", len(ts), path)
		return
	}

	for i, tr := range ts {
		if j, w, g, ok := firstDifference(tr.output, got[i], maskLine); !ok {
			t.Errorf("README.md:%d: `fhetune %s` no longer prints what README.md shows (first difference; regenerate with %s):\nREADME: %s\nnow:    %s",
				tr.first+j+1, strings.Join(tr.args, " "), readmeRegenerate, w, g)
		}
	}
}

// readREADME returns README.md's absolute path and its lines.
func readREADME(t *testing.T) (string, []string) {
	t.Helper()
	path, err := filepath.Abs(readmeFile)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, strings.Split(string(raw), "\n")
}

// firstDifference compares want and got line by line, after norm, and returns the
// index of the first line that differs (or that one of them lacks, shown as
// "(nothing)") with both lines; ok is true when none differs.
func firstDifference(want, got []string, norm func(string) string) (j int, w, g string, ok bool) {
	for j = 0; j < max(len(want), len(got)); j++ {
		w, g = "(nothing)", "(nothing)"
		if j < len(want) {
			w = want[j]
		}
		if j < len(got) {
			g = got[j]
		}
		if j >= len(want) || j >= len(got) || norm(w) != norm(g) {
			return j, w, g, false
		}
	}
	return 0, "", "", true
}

// Markers around the README's account of the built-in calibration profile, which
// TestREADMECalibration renders from the profile itself.
const (
	calibrationBegin = "<!-- begin calibration: " + readmeRegenerate + " -->"
	calibrationEnd   = "<!-- end calibration -->"
)

// calibrationMarkdown describes a profile as the README does: provenance, the fitted
// optima at the first p_error and norm with every held-out set, and the errors and
// terms a reader checks the profile by.
func calibrationMarkdown(pr calibration.Profile) []string {
	var b strings.Builder
	first := ""
	if len(pr.Measurements) > 0 {
		first = pr.Measurements[0].Label
		if i := strings.Index(first, " e="); strings.HasPrefix(first, "optimum p=") && i > 0 {
			first = first[i:]
		}
	}
	rounds := 0
	for _, m := range pr.Measurements {
		rounds = max(rounds, m.Rounds)
	}
	fmt.Fprintf(&b, "The built-in profile (`fhetune --db /tmp/reference.db %s`, made %s on %s,\n",
		strings.TrimPrefix(pr.Command, "fhetune "), pr.Created.Format("2006-01-02"), pr.Machine)
	fmt.Fprintf(&b, "load average %.1f at the start and %.1f at the end): %d sets fitted and %d held out,\n",
		pr.LoadAverage[0], pr.LoadAverage[1], len(pr.Measurements), len(pr.HeldOut))
	fmt.Fprintf(&b, "each time the median of %d rounds. One keyswitch + PBS on one core, the fitted optima at%s and every held-out set:\n\n", rounds, strings.ReplaceAll(first, " L=", " log2 norm2 "))
	b.WriteString("| set | chosen as | measured ms | predicted ms | error |\n| --- | --- | --- | --- | --- |\n")
	for _, r := range pr.Table() {
		if !r.HeldOut && !strings.HasSuffix(r.Label, first) {
			continue
		}
		kind := "left out"
		if r.HeldOut {
			kind = "held out"
		}
		fmt.Fprintf(&b, "| %v | %s | %.2f | %.2f | %+.1f%% (%s) |\n", r.Set, r.Label, r.MeasuredMS, r.PredictedMS, 100*r.LOOError, kind)
	}
	fmt.Fprintf(&b, "\nLeave-one-out error over the %d fitted sets: median %.1f%%, worst %.1f%%.", len(pr.Measurements), 100*pr.LOO.Median, 100*pr.LOO.Max)
	if h := pr.HeldOutError; h != nil {
		fmt.Fprintf(&b, " Error on the %d held-out sets, which the fit never saw: median %.1f%%, worst %.1f%% (goal ≤ 8%% and ≤ 20%%).", len(pr.HeldOut), 100*h.Median, 100*h.Max)
	}
	ks := math.NaN()
	for i, t := range pr.Model.Terms {
		if t == "ks_mac" {
			ks = pr.Model.Coef[i] * 1e6
		}
	}
	var wall, cpu []float64 // each throughput run's times over its single-core reference
	for _, m := range pr.Measurements {
		if m.Workers >= 2 && m.ParallelRefMS > 0 && m.ParallelWallMS() > 0 {
			wall = append(wall, m.ParallelWallMS()/m.ParallelRefMS)
			cpu = append(cpu, m.ParallelMS/m.ParallelRefMS)
		}
	}
	fmt.Fprintf(&b, "\nWith all %d cores busy a bootstrap takes %.2f× its single-core time plus %.3g ms per MB of keys, fitted to the wall time per bootstrap and core of %d runs that kept every core busy (on average %.3g× the single-core time of the same moment, where the median CPU time of one of their bootstraps was %.3g×); a keyswitch multiply-add costs %.3g ns (the `ks_mac` term) and a levelled dot product %.3g ns per coefficient. %d of %d checked bootstraps decrypted wrong, where the noise model expected %.2g.\n",
		pr.Parallel.Workers, pr.Parallel.Scale, pr.Parallel.MSPerMB, len(wall), stat.Mean(wall, nil), stat.Mean(cpu, nil), ks, pr.DotNSPerCoef, pr.Wrong, pr.Bootstraps, pr.ExpectedWrong)
	return strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
}

// TestREADMECalibration checks the README's account of the built-in profile against
// fhe/calibration/default_profile.json; with -update it rewrites it.
func TestREADMECalibration(t *testing.T) {
	path, lines := readREADME(t)
	begin, end := slices.Index(lines, calibrationBegin), slices.Index(lines, calibrationEnd)
	if begin < 0 || end < begin {
		t.Fatalf("README.md lacks the lines %q and %q around the calibration table", calibrationBegin, calibrationEnd)
	}
	pr, err := calibration.Default()
	if err != nil {
		t.Fatal(err)
	}
	got := calibrationMarkdown(pr)
	if *update {
		b := slices.Concat(lines[:begin+1], got, lines[end:])
		if err := atomicfile.Write(path, []byte(strings.Join(b, "\n"))); err != nil {
			t.Fatal(err)
		}
		return
	}
	same := func(l string) string { return l }
	if j, w, g, ok := firstDifference(lines[begin+1:end], got, same); !ok {
		t.Fatalf("README.md:%d: the built-in calibration profile is not what README.md says (first difference; regenerate with %s):\nREADME: %s\nnow:    %s",
			begin+j+2, readmeRegenerate, w, g)
	}
}
