package tuner_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fhetune/fhetune/studies"
	"github.com/fhetune/fhetune/studies/studiestest"
	"github.com/fhetune/fhetune/tuner"
)

const (
	crashChildDB    = "FHETUNE_CRASH_CHILD_DB" // database path or PostgreSQL URL
	crashChildModel = "FHETUNE_CRASH_CHILD_MODEL"
	crashTrials     = 40
)

// crashBackends are the stores the crash test runs on: each gives the --db value of a
// fresh, empty database for one test (on PostgreSQL a schema of its own, or a skip
// without a server; see studiestest).
var crashBackends = []struct {
	name string
	db   func(t *testing.T) string
}{
	{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "crash.db") }},
	{"postgres", func(t *testing.T) string { return studiestest.PostgresURL(t, "tuner") }},
}

// TestCrashChild is the process TestRunSurvivesSIGKILL starts and kills: it runs the
// study of crashSpec (the real objective, two workers) and prints a line per finished
// trial.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashChildDB)
	if path == "" {
		t.Skip("run by TestRunSurvivesSIGKILL")
	}
	db, err := studies.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = tuner.Run(context.Background(), db, newPlan(t, crashSpec(os.Getenv(crashChildModel))),
		tuner.WithHeartbeat(50*time.Millisecond, 10*time.Second),
		tuner.WithProgress(func(p tuner.Progress) { fmt.Printf("progress %d\n", p.Done) }))
	if err != nil {
		t.Fatal(err)
	}
}

func crashSpec(modelFile string) tuner.Spec {
	return tuner.Spec{Model: tuner.ModelSpec{File: modelFile}, Trials: crashTrials, Workers: 2}
}

// TestRunSurvivesSIGKILL kills a process running a study with SIGKILL at random moments
// (after a random number of finished trials, then a random delay) and starts it again,
// several times, then lets it finish. After every kill no complete trial is lost or
// changed and trial numbers stay unique; at the end the study has exactly the trials
// asked for, every abandoned trial failed and re-run. It runs on an SQLite file and on
// a PostgreSQL schema of its own (when studiestest.PostgresEnv names a server).
func TestRunSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	for _, b := range crashBackends {
		t.Run(b.name, func(t *testing.T) { testRunSurvivesSIGKILL(t, b.db(t)) })
	}
}

func testRunSurvivesSIGKILL(t *testing.T, dbPath string) {
	modelPath := filepath.Join(t.TempDir(), "base.fhtm")
	saveBaseModel(t, modelPath)
	rng := rand.New(rand.NewPCG(2024, 11))
	complete := map[int]string{} // complete trials seen so far, by number
	kills := 0
	for round := 0; round < 8; round++ {
		finished := runChild(t, dbPath, modelPath, rng.IntN(12), time.Duration(rng.IntN(40))*time.Millisecond)
		if !finished {
			kills++
		}
		checkCrashDB(t, dbPath, complete, false)
		if finished {
			break
		}
	}
	if kills < 3 {
		t.Fatalf("only %d kills happened before the study finished", kills)
	}
	if !runChild(t, dbPath, modelPath, -1, 0) {
		t.Fatal("the last run did not finish")
	}
	checkCrashDB(t, dbPath, complete, true)
	t.Logf("%d kills, %d complete trials", kills, len(complete))
}

// runChild starts TestCrashChild and, unless killAfter < 0, kills it with SIGKILL after
// killAfter progress lines and the delay. It reports whether the child finished by
// itself.
func runChild(t *testing.T, dbPath, modelPath string, killAfter int, delay time.Duration) bool {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildDB+"="+dbPath, crashChildModel+"="+modelPath)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	lines := 0
	killed := false
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "progress ") {
			lines++
		}
		if killAfter >= 0 && lines > killAfter && !killed {
			time.Sleep(delay) // a random moment within the next trials
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	if killed {
		return false
	}
	if err != nil {
		t.Fatalf("child: %v\n%s", err, stderr.String())
	}
	return true
}

// checkCrashDB checks the invariants of the crash test's study: numbers unique and
// dense, complete trials never lost or changed, and, when final, exactly crashTrials
// trials that count and nothing left running or waiting.
func checkCrashDB(t *testing.T, path string, complete map[int]string, final bool) {
	t.Helper()
	db, err := studies.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := db.Study(context.Background(), tuner.DefaultStudyName)
	if err != nil {
		return // killed before the study was created
	}
	ts, err := db.Trials(context.Background(), st.ID, studies.TrialFilter{})
	if err != nil {
		t.Fatal(err)
	}
	now := map[int]string{}
	retried := map[int]bool{}
	for i, tr := range ts {
		if tr.Number != i {
			t.Fatalf("trial numbers not dense and unique: position %d holds %d", i, tr.Number)
		}
		if tr.RetryOf >= 0 {
			retried[tr.RetryOf] = true
		}
		if tr.State == studies.Complete {
			now[tr.Number] = trialText(tr)
		}
	}
	for n, text := range complete {
		if now[n] != text {
			t.Fatalf("complete trial %d lost or changed:\nbefore %s\nnow    %s", n, text, now[n])
		}
	}
	for n, text := range now {
		complete[n] = text
	}
	if !final {
		return
	}
	counted, reaped := 0, 0
	for _, tr := range ts {
		abandoned := tr.State == studies.Fail && (len(tr.Params) == 0 || retried[tr.Number] ||
			strings.HasPrefix(tr.Error, "tuner: interrupted"))
		switch {
		case tr.State == studies.Running || tr.State == studies.Waiting:
			t.Fatalf("trial left %s: %s", tr.State, trialText(tr))
		case abandoned:
			reaped++
			if !strings.Contains(tr.Error, "no heartbeat") && !strings.HasPrefix(tr.Error, "tuner: interrupted") {
				t.Fatalf("abandoned trial without a reason: %s", trialText(tr))
			}
		case tr.State == studies.Fail && strings.Contains(tr.Error, "no heartbeat"):
			t.Fatalf("reaped trial with knobs never re-run: %s", trialText(tr))
		default:
			counted++
		}
	}
	if counted != crashTrials {
		t.Fatalf("%d trials count, want %d (of %d in all)", counted, crashTrials, len(ts))
	}
	t.Logf("%d trials in all, %d abandoned by killed processes and run again", len(ts), reaped)
}
