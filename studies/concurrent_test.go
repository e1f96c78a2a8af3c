package studies_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/fhetune/fhetune/studies"
)

// concurrentHelper waits for a line on stdin (so that all helpers start together),
// then opens the database (creating it if it is the first), creates or finds study
// "shared", and adds count trials to it: start, set random parameters, heartbeat,
// complete. Any error, "database is locked" included, exits non-zero.
func concurrentHelper() error {
	seed, err := strconv.Atoi(os.Getenv(seedEnv))
	if err != nil {
		return err
	}
	count, err := strconv.Atoi(os.Getenv(countEnv))
	if err != nil {
		return err
	}
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	ctx := context.Background()
	s, err := studies.Open(ctx, os.Getenv(dbEnv))
	if err != nil {
		return err
	}
	defer s.Close()
	st, err := s.CreateStudy(ctx, studies.NewStudy{Name: "shared", Objectives: twoObjectives})
	if errors.Is(err, studies.ErrStudyExists) {
		st, err = s.Study(ctx, "shared")
	}
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 99))
	worker := "w" + strconv.Itoa(seed)
	for range count {
		t, err := s.StartTrial(ctx, st.ID, worker)
		if err != nil {
			return err
		}
		x, y := rng.Float64(), rng.Float64()
		if err := s.SetParams(ctx, t.ID, []studies.Param{{Name: "x", Value: x}, {Name: "y", Value: y}}); err != nil {
			return err
		}
		if err := s.Heartbeat(ctx, t.ID); err != nil {
			return err
		}
		if err := s.Complete(ctx, t.ID, objectiveValues(x, y), nil); err != nil {
			return err
		}
	}
	return s.Close()
}

// TestConcurrentProcesses runs 4 OS processes that each add 200 trials to one study in
// one new database (an SQLite file, a PostgreSQL schema) at the same time.
func TestConcurrentProcesses(t *testing.T) { eachBackend(t, testConcurrentProcesses) }

func testConcurrentProcesses(t *testing.T, b backend) {
	const procs, each = 4, 200
	path := b.db(t)
	type helper struct {
		cmd    *exec.Cmd
		stdin  io.WriteCloser
		stderr strings.Builder
	}
	hs := make([]*helper, procs)
	for i := range hs {
		h := &helper{cmd: exec.Command(os.Args[0], "-test.run=^$")}
		h.cmd.Env = append(os.Environ(), helperEnv+"=concurrent", dbEnv+"="+path,
			seedEnv+"="+strconv.Itoa(i), countEnv+"="+strconv.Itoa(each))
		h.cmd.Stderr = &h.stderr
		var err error
		if h.stdin, err = h.cmd.StdinPipe(); err != nil {
			t.Fatal(err)
		}
		if err := h.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		hs[i] = h
	}
	for _, h := range hs { // go
		fmt.Fprintln(h.stdin)
		h.stdin.Close()
	}
	for i, h := range hs {
		if err := h.cmd.Wait(); err != nil {
			t.Errorf("helper %d: %v\n%s", i, err, h.stderr.String())
		}
		if strings.Contains(h.stderr.String(), "locked") {
			t.Errorf("helper %d saw a lock error:\n%s", i, h.stderr.String())
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	ctx := context.Background()
	s, err := studies.Open(ctx, path, studies.MustExist())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := s.Study(ctx, "shared")
	if err != nil {
		t.Fatal(err)
	}
	trials, err := s.Trials(ctx, st.ID, studies.TrialFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(trials) != procs*each {
		t.Fatalf("%d trials, want %d", len(trials), procs*each)
	}
	perWorker := map[string]int{}
	for i, tr := range trials {
		if tr.Number != i {
			t.Fatalf("position %d holds trial number %d; want 0..%d exactly once", i, tr.Number, procs*each-1)
		}
		x, _ := tr.Param("x")
		y, _ := tr.Param("y")
		want := objectiveValues(x.Value, y.Value)
		if tr.State != studies.Complete || len(tr.Values) != 2 || tr.Values[0] != want[0] || tr.Values[1] != want[1] {
			t.Fatalf("trial %d: %s %v, want COMPLETE %v", tr.Number, tr.State, tr.Values, want)
		}
		perWorker[tr.Worker]++
	}
	for i := range procs {
		if n := perWorker["w"+strconv.Itoa(i)]; n != each {
			t.Errorf("worker w%d has %d trials, want %d", i, n, each)
		}
	}
	assertFront(t, s, st, trials)
}
