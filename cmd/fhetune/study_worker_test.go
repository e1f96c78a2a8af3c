package main

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fhetune/fhetune/studies"
	"github.com/fhetune/fhetune/studies/studiestest"
)

// TestStudyWorkerJoinsPostgres runs `study start` and a `study worker` process on one
// PostgreSQL database: the worker joins once the study runs, both exit 0 when the
// study has its trials, and both processes ran some of them, numbered densely. Each
// process decides to start a trial from the trials it last read, so the two may both
// start the last one: the one numbered later must fail it as not needed, without knobs,
// so that exactly the trials asked for count.
func TestStudyWorkerJoinsPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	db := studiestest.PostgresURL(t, "cmd/fhetune")
	const trials = 40
	start := launchCLI(t, "--db", db, "study", "start", "--trials", strconv.Itoa(trials), "--workers", "1")
	start.waitTrials(t, 1) // the study exists, with its spec and base model
	worker := launchCLI(t, "--db", db, "study", "worker", "default", "--workers", "1")
	for _, p := range []*cliProcess{start, worker} {
		if err := p.wait(); err != nil {
			t.Fatalf("%v: %v\n%s", p.args, err, p.stderr())
		}
	}

	ts := defaultTrials(t, db, studies.TrialFilter{})
	byProcess := map[string]int{} // finished trials (complete, pruned or failed) by host:pid
	surplus := 0
	for i, tr := range ts {
		if tr.Number != i {
			t.Fatalf("trial numbers not dense: position %d holds %d", i, tr.Number)
		}
		if !tr.State.Finished() {
			t.Fatalf("trial %d left %s", tr.Number, tr.State)
		}
		if tr.State == studies.Fail && len(tr.Params) == 0 && strings.Contains(tr.Error, "not needed") {
			surplus++
			continue
		}
		byProcess[tr.Worker[:strings.LastIndex(tr.Worker, ":")]]++
	}
	if len(ts)-surplus != trials || surplus > 1 || len(byProcess) != 2 {
		t.Fatalf("%d trials, %d of them not needed (want %d, at most one not needed) by processes %v (want two)",
			len(ts), surplus, trials, byProcess)
	}
}

// TestStudyCopyPostgresRoundTrip copies a study from SQLite to PostgreSQL and back:
// `study show --json` prints the same document from all three databases.
func TestStudyCopyPostgresRoundTrip(t *testing.T) {
	pg := studiestest.PostgresURL(t, "cmd/fhetune")
	dir := t.TempDir()
	src := filepath.Join(dir, "src.db")
	makeStudyDB(t, src)
	back := filepath.Join(dir, "back.db")
	want := showJSON(t, src, "mlp")
	for _, c := range []struct{ from, to string }{{src, pg}, {pg, back}} {
		code, out, errOut := studyCLI(t, "study", "copy", "mlp", "--from", c.from, "--to", c.to)
		if code != 0 || errOut != "" {
			t.Fatalf("copy %s -> %s: exit %d\n%s", studies.RedactURL(c.from), studies.RedactURL(c.to), code, errOut)
		}
		if !strings.HasPrefix(out, `copied study "mlp" (7 trials, front of 3) from `+studies.RedactURL(c.from)+" to "+studies.RedactURL(c.to)) ||
			strings.Contains(out, ":fhetune_test@") {
			t.Fatalf("copy printed %q", out)
		}
		if got := showJSON(t, c.to, "mlp"); got != want {
			t.Fatalf("study show --json of the copy in %s differs:\n%s\nwant:\n%s", studies.RedactURL(c.to), got, want)
		}
	}
	// A second copy into the same database is refused: the study exists there.
	code, _, errOut := studyCLI(t, "study", "copy", "mlp", "--from", src, "--to", pg)
	if code != 2 || !strings.Contains(errOut, "already exists") || strings.Count(errOut, "\n") != 1 {
		t.Fatalf("copy onto an existing study: exit %d, %q", code, errOut)
	}
}

// showJSON returns `study show NAME --json` of the database.
func showJSON(t *testing.T, db, name string) string {
	t.Helper()
	code, out, errOut := studyCLI(t, "--db", db, "study", "show", name, "--json")
	if code != 0 {
		t.Fatalf("study show %s in %s: exit %d, %s", name, studies.RedactURL(db), code, errOut)
	}
	return out
}

// TestStudyWorkerCopyBadInput: an unknown study (exit 2) and a server that cannot be
// reached (exit 1) give one line that names the database without its password, and
// nothing is written. These cases need no server (see the Postgres variant below).
func TestStudyWorkerCopyBadInput(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.db")
	makeStudyDB(t, src)
	const secret = "s3cret-pw"
	unreachable := "postgres://fhetune_test:" + secret + "@127.0.0.1:1/fhetune_test?connect_timeout=5" // nothing listens on port 1
	fresh := filepath.Join(dir, "fresh.db")
	cases := []struct {
		name string
		args []string
		code int
		want string // in the message
	}{
		{"worker: unknown study", []string{"--db", src, "study", "worker", "nosuch"}, 2, "no such study"},
		{"worker: unreachable server", []string{"--db", unreachable, "study", "worker", "mlp"}, 1, studies.RedactURL(unreachable)},
		{"copy: unknown study", []string{"study", "copy", "nosuch", "--from", src, "--to", fresh}, 2, "no such study"},
		{"copy: unreachable destination", []string{"study", "copy", "mlp", "--from", src, "--to", unreachable}, 1, studies.RedactURL(unreachable)},
		{"copy: unreachable source", []string{"study", "copy", "mlp", "--from", unreachable, "--to", fresh}, 1, studies.RedactURL(unreachable)},
		{"copy: no destination", []string{"study", "copy", "mlp", "--from", src}, 2, "give both --from and --to"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkBadRun(t, c.args, c.code, c.want, secret)
			if _, err := studies.Open(context.Background(), fresh, studies.MustExist()); !errors.Is(err, studies.ErrNoDatabase) {
				t.Fatalf("%s was created (Open: %v)", fresh, err)
			}
		})
	}
}

// checkBadRun runs the command line and checks its exit code and its one-line message,
// which holds want and not the password.
func checkBadRun(t *testing.T, args []string, code int, want, password string) {
	t.Helper()
	got, out, errOut := studyCLI(t, args...)
	if got != code || out != "" || !strings.HasPrefix(errOut, "fhetune: ") || strings.Count(errOut, "\n") != 1 ||
		!strings.Contains(errOut, want) || strings.Contains(errOut, password) {
		t.Fatalf("exit %d (want %d), stdout %q, stderr %q (want one line with %q, without the password)",
			got, code, out, errOut, want)
	}
}

// TestStudyWorkerCopyBadInputPostgres: an unknown study on a PostgreSQL database, for
// worker and for copy in both directions, exits 2 with one line that names the study
// and not the password; copying it into an empty database creates nothing there.
func TestStudyWorkerCopyBadInputPostgres(t *testing.T) {
	withStudy := studiestest.PostgresURL(t, "cmd/fhetune")
	src := filepath.Join(t.TempDir(), "src.db")
	makeStudyDB(t, src)
	if code, _, errOut := studyCLI(t, "study", "copy", "mlp", "--from", src, "--to", withStudy); code != 0 {
		t.Fatalf("copy: exit %d, %s", code, errOut)
	}
	empty := studiestest.PostgresURL(t, "cmd/fhetune")
	const password = ":fhetune_test@" // the test server's user:password@ (user and password alike)
	for _, c := range []struct {
		name string
		args []string
	}{
		{"worker", []string{"--db", withStudy, "study", "worker", "nosuch"}},
		{"copy from", []string{"study", "copy", "nosuch", "--from", withStudy, "--to", src}},
		{"copy to", []string{"study", "copy", "nosuch", "--from", src, "--to", empty}},
	} {
		t.Run(c.name, func(t *testing.T) {
			checkBadRun(t, c.args, 2, `"nosuch"`, password)
			if _, err := studies.Open(context.Background(), empty, studies.MustExist()); !errors.Is(err, studies.ErrNoDatabase) {
				t.Fatalf("the empty database was written to (Open: %v)", err)
			}
		})
	}
}

// TestStudyWorkersSurviveSIGKILL runs the multi-machine recipe with failures, on a
// PostgreSQL database and on an SQLite file: `study start` and two `study worker`
// processes share one study; SIGKILL takes one worker a moment after one of its trials
// ended, then `study start` itself, and a new worker joins in the first one's place.
// The processes left exit 0 and the study holds exactly its trials: numbers dense,
// nothing left running or waiting, every trial a killed process abandoned failed for
// want of a heartbeat and, if it had knobs, run again as a later trial.
func TestStudyWorkersSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	t.Run("postgres", func(t *testing.T) { testWorkersSurviveSIGKILL(t, studiestest.PostgresURL(t, "cmd/fhetune")) })
	t.Run("sqlite", func(t *testing.T) { testWorkersSurviveSIGKILL(t, filepath.Join(t.TempDir(), "workers.db")) })
}

func testWorkersSurviveSIGKILL(t *testing.T, db string) {
	const trials = 100
	start := launchCLI(t, "--db", db, "study", "start", "--trials", strconv.Itoa(trials), "--workers", "1")
	start.waitTrials(t, 1) // the study exists, with its spec and base model
	w1 := launchCLI(t, "--db", db, "study", "worker", "default", "--workers", "1")
	w2 := launchCLI(t, "--db", db, "study", "worker", "default", "--workers", "1")
	w1.waitTrials(t, 3)
	w1.kill(t)
	w3 := launchCLI(t, "--db", db, "study", "worker", "default", "--workers", "1")
	start.waitTrials(t, 3)
	start.kill(t)
	for _, p := range []*cliProcess{w2, w3} {
		if err := p.wait(); err != nil {
			t.Fatalf("%v: %v\n%s", p.args, err, p.stderr())
		}
	}

	ts := defaultTrials(t, db, studies.TrialFilter{})
	retried := map[int]bool{}
	for i, tr := range ts {
		if tr.Number != i {
			t.Fatalf("trial numbers not dense: position %d holds %d", i, tr.Number)
		}
		if !tr.State.Finished() {
			t.Fatalf("trial %d left %s", tr.Number, tr.State)
		}
		if tr.RetryOf >= 0 {
			retried[tr.RetryOf] = true
		}
	}
	surplus, abandoned := 0, 0
	for _, tr := range ts {
		switch {
		case tr.State == studies.Fail && len(tr.Params) == 0 && strings.Contains(tr.Error, "not needed"):
			surplus++
		case tr.State == studies.Fail && strings.Contains(tr.Error, "no heartbeat"):
			abandoned++
			if len(tr.Params) > 0 && !retried[tr.Number] {
				t.Fatalf("trial %d abandoned with knobs and never run again: %s", tr.Number, tr.Error)
			}
		}
	}
	if counted := len(ts) - surplus - abandoned; counted != trials {
		t.Fatalf("%d trials count (%d in all, %d not needed, %d abandoned), want %d", counted, len(ts), surplus, abandoned, trials)
	}
	t.Logf("%d trials, %d abandoned by the killed processes, %d not needed", len(ts), abandoned, surplus)
}

// cliProcess is a fhetune child process (see startCLI) whose stderr a goroutine reads:
// it keeps every line and passes on those of ended trials.
type cliProcess struct {
	args   []string
	cmd    *exec.Cmd
	trials chan string // "trial …" lines; closed when stderr ends
	mu     sync.Mutex
	lines  []string
	done   chan struct{} // closed when stderr ends
}

// launchCLI starts fhetune with args in a child process.
func launchCLI(t *testing.T, args ...string) *cliProcess {
	t.Helper()
	cmd, sc, _ := startCLI(t, args...)
	p := &cliProcess{args: args, cmd: cmd, trials: make(chan string, 10000), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		defer close(p.trials)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
			if strings.HasPrefix(sc.Text(), "trial ") {
				p.trials <- sc.Text()
			}
		}
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = p.wait() })
	return p
}

// waitTrials returns once n more of the child's trials have ended.
func (p *cliProcess) waitTrials(t *testing.T, n int) {
	t.Helper()
	for range n {
		if _, ok := <-p.trials; !ok {
			t.Fatalf("%v ended before its trials:\n%s", p.args, p.stderr())
		}
	}
}

// kill sends SIGKILL to the child a moment after the trial it has just ended, so that
// the next one is most likely running, and reaps it.
func (p *cliProcess) kill(t *testing.T) {
	t.Helper()
	time.Sleep(20 * time.Millisecond)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("%v: SIGKILL: %v (the study ended before it?)", p.args, err)
	}
	_ = p.wait()
}

// wait waits for the child's stderr to end and for the child to exit.
func (p *cliProcess) wait() error {
	<-p.done
	return p.cmd.Wait()
}

// stderr returns what the child wrote to stderr so far.
func (p *cliProcess) stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}
