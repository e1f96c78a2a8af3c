package studies_test

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fhetune/fhetune/studies"
)

// crashHelper completes trials of study "crash" forever, printing "C n" after the
// Complete of trial n returned and "F n" after its Fail returned. Every 9th trial
// fails. It first reaps the RUNNING trials a killed predecessor left (timeout 0: it is
// the only worker), as `study resume` does.
func crashHelper() error {
	ctx := context.Background()
	s, err := studies.Open(ctx, os.Getenv(dbEnv))
	if err != nil {
		return err
	}
	defer s.Close()
	st, err := s.Study(ctx, "crash")
	if errors.Is(err, studies.ErrNoStudy) {
		st, err = s.CreateStudy(ctx, studies.NewStudy{Name: "crash", Objectives: twoObjectives})
	}
	if err != nil {
		return err
	}
	if _, err := s.ReapStale(ctx, st.ID, 0); err != nil {
		return err
	}
	worker := strconv.Itoa(os.Getpid())
	for {
		t, err := s.StartTrial(ctx, st.ID, worker)
		if err != nil {
			return err
		}
		x, ok := t.Param("x")
		y, _ := t.Param("y")
		if !ok {
			x = studies.Param{Name: "x", Value: frac(float64(t.Number) * 0.6180339887)}
			y = studies.Param{Name: "y", Value: frac(float64(t.Number) * 0.4142135623)}
			if err := s.SetParams(ctx, t.ID, []studies.Param{x, y}); err != nil {
				return err
			}
		}
		if err := s.Heartbeat(ctx, t.ID); err != nil {
			return err
		}
		if t.Number%9 == 4 {
			if err := s.Fail(ctx, t.ID, "planned failure"); err != nil {
				return err
			}
			fmt.Printf("F %d\n", t.Number)
			continue
		}
		if err := s.Complete(ctx, t.ID, objectiveValues(x.Value, y.Value), []byte(`{"worker":"`+worker+`"}`)); err != nil {
			return err
		}
		fmt.Printf("C %d\n", t.Number)
	}
}

// TestCrashSIGKILL kills a helper process that completes trials at random moments
// (20 times, reopening the same file each time) and checks that the file is intact,
// that every trial the helper reported as committed is stored as reported, that trial
// numbers are unique and dense, and that stale RUNNING trials are reaped on the next
// open.
func TestCrashSIGKILL(t *testing.T) { eachBackend(t, testCrashSIGKILL) }

func testCrashSIGKILL(t *testing.T, b backend) {
	const kills = 20
	path := b.db(t)
	rng := rand.New(rand.NewPCG(2, 20)) // fixed seed; the exact kill moments still vary with scheduling
	reported := map[int]string{}        // number → "C" or "F"
	for i := 0; i < kills; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperEnv+"=crash", dbEnv+"="+path)
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
		record := func() bool {
			if !sc.Scan() {
				return false
			}
			kind, num, ok := strings.Cut(sc.Text(), " ")
			n, err := strconv.Atoi(num)
			if !ok || err != nil {
				t.Fatalf("helper printed %q", sc.Text())
			}
			if prev, dup := reported[n]; dup {
				t.Fatalf("trial %d reported twice (%s, then %s)", n, prev, kind)
			}
			reported[n] = kind
			return true
		}
		// The first runs are killed early, often while opening or migrating; the
		// others after a random number of committed trials.
		if i < 3 {
			time.Sleep(time.Duration(rng.IntN(30_000)) * time.Microsecond)
		} else {
			for range 1 + rng.IntN(25) {
				if !record() {
					t.Fatalf("run %d: helper stopped early: %v\n%s", i, cmd.Wait(), stderr.String())
				}
			}
			time.Sleep(time.Duration(rng.IntN(1500)) * time.Microsecond) // land anywhere in the next transaction
		}
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		for record() { // lines written before the kill are committed trials too
		}
		err = cmd.Wait()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != -1 {
			t.Fatalf("run %d: helper was not killed by the signal (%v):\n%s", i, err, stderr.String())
		}
		if stderr.Len() > 0 {
			t.Fatalf("run %d: helper wrote to stderr:\n%s", i, stderr.String())
		}
	}
	committed := len(reported)
	if committed < kills {
		t.Fatalf("only %d trials reported over %d runs", committed, kills)
	}

	if b.name == "sqlite" {
		checkSQLiteIntegrity(t, path)
	}

	ctx := context.Background()
	s, err := studies.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := s.Study(ctx, "crash")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReapStale(ctx, st.ID, 0); err != nil {
		t.Fatal(err)
	}
	trials, err := s.Trials(ctx, st.ID, studies.TrialFilter{})
	if err != nil {
		t.Fatal(err)
	}
	retried := map[int]int{}
	for i, tr := range trials {
		if tr.Number != i {
			t.Fatalf("trial numbers not dense: position %d holds number %d", i, tr.Number)
		}
		if tr.State == studies.Running {
			t.Fatalf("trial %d still RUNNING after ReapStale", tr.Number)
		}
		if tr.RetryOf >= 0 {
			retried[tr.RetryOf]++
		}
		switch reported[tr.Number] {
		case "C":
			x, _ := tr.Param("x")
			y, _ := tr.Param("y")
			want := objectiveValues(x.Value, y.Value)
			if tr.State != studies.Complete || len(tr.Values) != 2 || tr.Values[0] != want[0] || tr.Values[1] != want[1] {
				t.Fatalf("trial %d reported complete is %s with values %v, want %v", tr.Number, tr.State, tr.Values, want)
			}
		case "F":
			if tr.State != studies.Fail || tr.Error != "planned failure" {
				t.Fatalf("trial %d reported failed is %s (%q)", tr.Number, tr.State, tr.Error)
			}
		}
		delete(reported, tr.Number)
	}
	if len(reported) > 0 {
		t.Fatalf("%d reported trials are missing from the store: %v", len(reported), reported)
	}
	reapedCount := 0
	for _, tr := range trials {
		reaped := tr.State == studies.Fail && strings.Contains(tr.Error, "no heartbeat")
		if reaped {
			reapedCount++
		}
		if reaped && len(tr.Params) > 0 && retried[tr.Number] != 1 {
			t.Fatalf("reaped trial %d with parameters was enqueued again %d times, want once", tr.Number, retried[tr.Number])
		}
	}
	t.Logf("%d kills, %d trials (%d reported committed), %d reaped after a kill", kills, len(trials), committed, reapedCount)
	assertFront(t, s, st, trials)
}

// checkSQLiteIntegrity runs SQLite's integrity and foreign key checks on the file.
// (PostgreSQL enforces foreign keys on every statement.)
func checkSQLiteIntegrity(t *testing.T, path string) {
	t.Helper()
	raw, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var check string
	if err := raw.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check = %q, %v", check, err)
	}
	rows, err := raw.Query("PRAGMA foreign_key_check")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if rows.Next() {
		t.Fatal("foreign_key_check found dangling rows")
	}
}

// assertFront checks the stored front against one recomputed from all trials.
func assertFront(t *testing.T, s *studies.Store, st studies.Study, trials []studies.Trial) {
	t.Helper()
	front, err := s.ParetoFront(context.Background(), st.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := recomputeFront(trials, st.Directions())
	got := map[int64]bool{}
	for _, tr := range front {
		got[tr.ID] = true
		if !want[tr.ID] {
			t.Errorf("stored front holds trial %d (%v), which is dominated", tr.Number, tr.Values)
		}
	}
	for id := range want {
		if !got[id] {
			t.Errorf("stored front lacks non-dominated trial id %d", id)
		}
	}
	if len(want) == 0 {
		t.Fatal("no complete trials to form a front")
	}
}
