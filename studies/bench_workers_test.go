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
	"sync"
	"testing"
	"time"

	"github.com/fhetune/fhetune/studies"
)

// goroutinesEnv tells a bench helper how many goroutines run trials at once.
const goroutinesEnv = "FHETUNE_STUDIES_GOROUTINES"

// benchHelper opens the database, prints "ready", waits for a line on stdin, then runs
// count whole trials of study "bench" (start, set two parameters, heartbeat, complete)
// on each of its goroutines and prints "done".
func benchHelper() error {
	seed, err1 := strconv.Atoi(os.Getenv(seedEnv))
	count, err2 := strconv.Atoi(os.Getenv(countEnv))
	gs, err3 := strconv.Atoi(os.Getenv(goroutinesEnv))
	if err := errors.Join(err1, err2, err3); err != nil {
		return err
	}
	ctx := context.Background()
	s, err := studies.Open(ctx, os.Getenv(dbEnv))
	if err != nil {
		return err
	}
	defer s.Close()
	st, err := s.Study(ctx, "bench")
	if err != nil {
		return err
	}
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if err := inGoroutines(gs, func(g int) error {
		return runTrials(ctx, s, st.ID, fmt.Sprintf("w%d.%d", seed, g), uint64(seed*gs+g), count)
	}); err != nil {
		return err
	}
	fmt.Println("done")
	return s.Close()
}

// inGoroutines runs f(0), …, f(n−1) in n goroutines and returns their errors joined.
func inGoroutines(n int, f func(g int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for g := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[g] = f(g)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// runTrials runs count whole trials as worker.
func runTrials(ctx context.Context, s *studies.Store, studyID int64, worker string, seed uint64, count int) error {
	rng := rand.New(rand.NewPCG(seed, 77))
	for range count {
		t, err := s.StartTrial(ctx, studyID, worker)
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
	return nil
}

// BenchmarkWorkers measures whole trials (start, set parameters, heartbeat, complete:
// four calls, the store's work in one trial of `fhetune study worker`) per
// second with 8 workers in 4 processes sharing one study, on each backend. Every
// iteration runs 4000 trials; the processes open the database before the clock runs.
func BenchmarkWorkers(b *testing.B) {
	const procs, perProc, each = 4, 2, 500
	for _, be := range []backend{sqliteBackend, postgresBackend} {
		b.Run("db="+be.name, func(b *testing.B) {
			db := be.db(b)
			s, err := studies.Open(context.Background(), db)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			createStudy(b, s, "bench")
			var elapsed time.Duration
			for range b.N {
				elapsed += runBenchHelpers(b, db, procs, perProc, each)
			}
			b.ReportMetric(float64(b.N*procs*perProc*each)/elapsed.Seconds(), "trials/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkCalls measures each call of a whole trial alone, in calls per second with 8
// goroutines of one process on one study (StartTrial, SetParams, Heartbeat, Complete of
// a trial that the front dominates), on each backend: what BenchmarkWorkers' figure is
// made of. Each iteration makes 3,200 calls of each.
func BenchmarkCalls(b *testing.B) {
	const goroutines, each = 8, 400
	for _, be := range []backend{sqliteBackend, postgresBackend} {
		b.Run("db="+be.name, func(b *testing.B) {
			ctx := context.Background()
			s, _ := be.open(b)
			st := createStudy(b, s, "calls")
			// One front member that dominates every completion below.
			t0, err := s.StartTrial(ctx, st.ID, "w")
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Complete(ctx, t0.ID, []float64{1, 0}, nil); err != nil {
				b.Fatal(err)
			}
			var elapsed [4]time.Duration
			for range b.N {
				ids := make([][]int64, goroutines)
				calls := []func(g, i int) error{
					func(g, i int) error {
						t, err := s.StartTrial(ctx, st.ID, fmt.Sprint("w", g))
						ids[g] = append(ids[g], t.ID)
						return err
					},
					func(g, i int) error {
						return s.SetParams(ctx, ids[g][i], []studies.Param{{Name: "x", Value: 0.5}, {Name: "y", Value: 0.5}})
					},
					func(g, i int) error { return s.Heartbeat(ctx, ids[g][i]) },
					func(g, i int) error { return s.Complete(ctx, ids[g][i], []float64{0.5, float64(1 + i)}, nil) },
				}
				for k, call := range calls {
					began := time.Now()
					err := inGoroutines(goroutines, func(g int) error {
						for i := range each {
							if err := call(g, i); err != nil {
								return err
							}
						}
						return nil
					})
					elapsed[k] += time.Since(began)
					if err != nil {
						b.Fatal(err)
					}
				}
			}
			for k, name := range []string{"starts/s", "set-params/s", "heartbeats/s", "completes/s"} {
				b.ReportMetric(float64(b.N*goroutines*each)/elapsed[k].Seconds(), name)
			}
			b.ReportMetric(0, "ns/op")
		})
	}
}

// runBenchHelpers starts procs helper processes, waits until each opened the database,
// lets them run and returns the time until the last one finished.
func runBenchHelpers(b *testing.B, db string, procs, goroutines, each int) time.Duration {
	type helper struct {
		cmd    *exec.Cmd
		stdin  io.WriteCloser
		out    *bufio.Scanner
		stderr strings.Builder
	}
	hs := make([]*helper, procs)
	for i := range hs {
		h := &helper{cmd: exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")}
		h.cmd.Env = append(os.Environ(), helperEnv+"=bench", dbEnv+"="+db, seedEnv+"="+strconv.Itoa(i),
			countEnv+"="+strconv.Itoa(each), goroutinesEnv+"="+strconv.Itoa(goroutines))
		h.cmd.Stderr = &h.stderr
		var err error
		if h.stdin, err = h.cmd.StdinPipe(); err != nil {
			b.Fatal(err)
		}
		out, err := h.cmd.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		h.out = bufio.NewScanner(out)
		if err := h.cmd.Start(); err != nil {
			b.Fatal(err)
		}
		hs[i] = h
	}
	expect := func(h *helper, line string) {
		if !h.out.Scan() || h.out.Text() != line {
			b.Fatalf("helper: want %q, got %q: %v\n%s", line, h.out.Text(), h.cmd.Wait(), h.stderr.String())
		}
	}
	for _, h := range hs {
		expect(h, "ready")
	}
	began := time.Now()
	for _, h := range hs {
		fmt.Fprintln(h.stdin)
		h.stdin.Close()
	}
	for _, h := range hs {
		expect(h, "done")
	}
	elapsed := time.Since(began)
	for _, h := range hs {
		if err := h.cmd.Wait(); err != nil {
			b.Fatalf("helper: %v\n%s", err, h.stderr.String())
		}
	}
	return elapsed
}

// BenchmarkCopyStudy measures `fhetune study copy` of a 10,000-trial study (two
// parameters, two values and JSON attributes per trial; the front; a 64 KiB artifact)
// between the backends; each iteration copies into a fresh database.
func BenchmarkCopyStudy(b *testing.B) {
	const trials = 10_000
	ctx := context.Background()
	src, _ := sqliteBackend.open(b)
	st := createStudy(b, src, "big")
	if err := src.PutArtifact(ctx, st.ID, "base_model", make([]byte, 64<<10)); err != nil {
		b.Fatal(err)
	}
	if err := runTrials(ctx, src, st.ID, "w", 1, trials); err != nil {
		b.Fatal(err)
	}
	var pgSrc *studies.Store // the study in PostgreSQL, copied there before the clock runs
	if os.Getenv(pgEnv) != "" {
		pgSrc, _ = postgresBackend.open(b)
		if _, err := studies.CopyStudy(ctx, src, pgSrc, "big"); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range []struct {
		name     string
		from, to backend
	}{
		{"sqlite-to-postgres", sqliteBackend, postgresBackend},
		{"postgres-to-sqlite", postgresBackend, sqliteBackend},
		{"sqlite-to-sqlite", sqliteBackend, sqliteBackend},
	} {
		b.Run(c.name, func(b *testing.B) {
			from := src
			if c.from.name == "postgres" {
				from = pgSrc
				pgServer(b) // skips without a server
			}
			for range b.N {
				b.StopTimer()
				dst, _ := c.to.open(b)
				b.StartTimer()
				if _, err := studies.CopyStudy(ctx, from, dst, "big"); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/copy")
			b.ReportMetric(0, "ns/op")
		})
	}
}
