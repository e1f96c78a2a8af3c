package studies_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fhetune/fhetune/studies"
)

// TestPostgresBadInput opens PostgreSQL URLs that cannot be used: the error is one
// line, wraps the sentinel, names the URL without its password, and nothing is written.
func TestPostgresBadInput(t *testing.T) {
	server := pgServer(t)
	u, err := url.Parse(server)
	if err != nil {
		t.Fatal(err)
	}
	user := u.User.Username()
	wrongPW := *u
	wrongPW.User = url.UserPassword(user, "not-the-password-s3cret")
	closed := *u
	closed.Host = "127.0.0.1:1" // nothing listens on port 1
	closed.User = url.UserPassword(user, "not-the-password-s3cret")

	newer := pgURL(t)
	makeDB(t, newer)
	raw := rawDB(t, newer)
	if _, err := raw.Exec("INSERT INTO schema_migrations (version, name, applied) VALUES (99, 'from the future', 0)"); err != nil {
		t.Fatal(err)
	}
	other := pgURL(t)
	if _, err := rawDB(t, other).Exec("CREATE TABLE trials (id serial, what text)"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		db   string
		want error
	}{
		{"wrong password", wrongPW.String(), studies.ErrLogin},
		{"unreachable server", closed.String(), studies.ErrConnect},
		{"newer schema", newer, studies.ErrNewerSchema},
		{"tables of another application", other, studies.ErrNotStudyDatabase},
		{"malformed URL", "postgres://user:s3cret@host:notaport/db", studies.ErrInvalid},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := pgSnapshot(t, c.db)
			s, err := studies.Open(context.Background(), c.db)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			msg := err.Error()
			if !errors.Is(err, c.want) {
				t.Errorf("got %v, want %v", err, c.want)
			}
			if strings.Contains(msg, "\n") || strings.Contains(msg, "s3cret") || strings.Contains(msg, "fhetune_test:fhetune_test") {
				t.Errorf("message is not one line without the password: %q", msg)
			}
			if c.want != studies.ErrInvalid && !strings.Contains(msg, studies.RedactURL(c.db)) {
				t.Errorf("message %q does not name %s", msg, studies.RedactURL(c.db))
			}
			if after := pgSnapshot(t, c.db); after != before {
				t.Errorf("the database changed: %s, then %s", before, after)
			}
		})
	}
	empty := pgURL(t)
	if _, err := studies.Open(context.Background(), empty, studies.MustExist()); !errors.Is(err, studies.ErrNoDatabase) {
		t.Errorf("MustExist on an empty schema: got %v, want ErrNoDatabase", err)
	}
	if got := pgSnapshot(t, empty); got != "0 tables" {
		t.Errorf("MustExist wrote to an empty schema: %s", got)
	}
}

// pgSnapshot describes the tables of the URL's schema and their row counts ("-" when
// the URL does not lead to a usable database).
func pgSnapshot(t *testing.T, db string) string {
	t.Helper()
	u, err := url.Parse(db)
	if err != nil || u.Query().Get("search_path") == "" {
		return "-"
	}
	raw := rawDB(t, db)
	rows, err := raw.Query("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename")
	if err != nil {
		return "-"
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	rows.Close()
	out := fmt.Sprintf("%d tables", len(tables))
	for _, n := range tables {
		var c int
		if err := raw.QueryRow(`SELECT count(*) FROM "` + n + `"`).Scan(&c); err != nil {
			t.Fatal(err)
		}
		out += fmt.Sprintf(" %s=%d", n, c)
	}
	return out
}

// terminateHelper runs one trial of study "term" in two halves: it starts the trial,
// stores its parameters and prints "R <number>", then waits for a line on stdin (the
// test terminates its connections meanwhile), records a heartbeat, completes the
// trial and prints "C <number>".
func terminateHelper() error {
	ctx := context.Background()
	s, err := studies.Open(ctx, os.Getenv(dbEnv))
	if err != nil {
		return err
	}
	defer s.Close()
	st, err := s.Study(ctx, "term")
	if err != nil {
		return err
	}
	t, err := s.StartTrial(ctx, st.ID, "w"+strconv.Itoa(os.Getpid()))
	if err != nil {
		return err
	}
	x, y := 0.25, 0.5
	if err := s.SetParams(ctx, t.ID, []studies.Param{{Name: "x", Value: x}, {Name: "y", Value: y}}); err != nil {
		return err
	}
	fmt.Printf("R %d\n", t.Number)
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if err := s.Heartbeat(ctx, t.ID); err != nil {
		return err
	}
	if err := s.Complete(ctx, t.ID, objectiveValues(x, y), nil); err != nil {
		return err
	}
	fmt.Printf("C %d\n", t.Number)
	return s.Close()
}

// TestPostgresTerminatedConnection terminates a worker's connections from the server
// (pg_terminate_backend) while its trial runs. The worker either reconnects and
// completes the trial or exits non-zero; then the trial is reaped and its parameters
// completed by another worker. Either way the trial is completed once.
func TestPostgresTerminatedConnection(t *testing.T) {
	db := pgURL(t)
	app := fmt.Sprintf("fhetune-term-%d", os.Getpid())
	ctx := context.Background()
	s, err := studies.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := s.CreateStudy(ctx, studies.NewStudy{Name: "term", Objectives: twoObjectives})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=terminate", dbEnv+"="+withParam(t, db, "application_name", app))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
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
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "R ") {
		t.Fatalf("helper did not start its trial: %q, %v\n%s", sc.Text(), cmd.Wait(), stderr.String())
	}
	var killed int
	if err := rawDB(t, db).QueryRow(`SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = $1) k`, app).Scan(&killed); err != nil || killed == 0 {
		t.Fatalf("terminated %d connections (%v), want at least 1", killed, err)
	}
	fmt.Fprintln(stdin)
	stdin.Close()
	for sc.Scan() {
	}
	werr := cmd.Wait()
	t.Logf("terminated %d connections; helper: %v %s", killed, werr, strings.TrimSpace(stderr.String()))
	if werr != nil {
		// The worker gave up: the trial is reaped and run again by another one.
		if _, err := s.ReapStale(ctx, st.ID, 0); err != nil {
			t.Fatal(err)
		}
		tr, err := s.StartTrial(ctx, st.ID, "rescuer")
		if err != nil {
			t.Fatal(err)
		}
		x, _ := tr.Param("x")
		y, _ := tr.Param("y")
		if err := s.Complete(ctx, tr.ID, objectiveValues(x.Value, y.Value), nil); err != nil {
			t.Fatal(err)
		}
	}
	trials, err := s.Trials(ctx, st.ID, studies.TrialFilter{States: []studies.State{studies.Complete}})
	if err != nil {
		t.Fatal(err)
	}
	if len(trials) != 1 {
		t.Fatalf("%d complete trials, want 1: %+v", len(trials), trials)
	}
	if x, _ := trials[0].Param("x"); x.Value != 0.25 {
		t.Fatalf("complete trial has x = %v, want 0.25", x.Value)
	}
	assertFront(t, s, st, trials)
}

// TestPostgresNumberingIgnoresFrontLock holds the study row's lock, as a front update
// does through its WAL flush, and checks that trials are still started meanwhile (they
// take the numbering lock instead), that a trial the cached front dominates completes
// without that lock, and that a trial joining the front waits for it.
func TestPostgresNumberingIgnoresFrontLock(t *testing.T) {
	db := pgURL(t)
	ctx := context.Background()
	s, err := studies.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st := createStudy(t, s, "locks")
	first, err := s.StartTrial(ctx, st.ID, "w")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Complete(ctx, first.ID, objectiveValues(0.5, 0.5), nil); err != nil { // the front: {first}
		t.Fatal(err)
	}

	holder, err := rawDB(t, db).BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback()
	if _, err := holder.ExecContext(ctx, "SELECT front_version FROM studies WHERE id = $1 FOR NO KEY UPDATE", st.ID); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	dom, err := s.StartTrial(short, st.ID, "w")
	if err != nil {
		t.Fatalf("StartTrial while the study row is locked: %v", err)
	}
	join, err := s.StartTrial(short, st.ID, "w")
	if err != nil {
		t.Fatalf("StartTrial while the study row is locked: %v", err)
	}
	if dom.Number != 1 || join.Number != 2 {
		t.Fatalf("numbers %d, %d; want 1, 2", dom.Number, join.Number)
	}
	if err := s.Complete(short, dom.ID, objectiveValues(0.4, 0.9), nil); err != nil {
		t.Fatalf("Complete of a dominated trial while the study row is locked: %v", err)
	}
	joined := make(chan error, 1)
	go func() { joined <- s.Complete(ctx, join.ID, objectiveValues(0.6, 0), nil) }()
	select {
	case err := <-joined:
		t.Fatalf("Complete of a trial that joins the front returned (%v) while the study row is locked", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := holder.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := <-joined; err != nil {
		t.Fatal(err)
	}
	trials, err := s.Trials(ctx, st.ID, studies.TrialFilter{States: []studies.State{studies.Complete}})
	if err != nil {
		t.Fatal(err)
	}
	if len(trials) != 3 {
		t.Fatalf("%d complete trials, want 3", len(trials))
	}
	assertFront(t, s, st, trials)
}

// TestPostgresLostParamsWrittenAgain stands for a server crash that lost SetParams'
// asynchronous commit while the worker went on: the trial's parameters are deleted (or
// a replaced value put back) behind the store's back, and the store's completion,
// failure or pruning of the trial writes them again, on the one-statement path and on
// the general transaction.
func TestPostgresLostParamsWrittenAgain(t *testing.T) {
	db := pgURL(t)
	ctx := context.Background()
	s, err := studies.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	raw := rawDB(t, db)
	st := createStudy(t, s, "lost")
	first, err := s.StartTrial(ctx, st.ID, "w")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Complete(ctx, first.ID, objectiveValues(0.5, 0.5), nil); err != nil { // the front: {first}
		t.Fatal(err)
	}
	x := func(v float64) []studies.Param { return []studies.Param{{Name: "x", Value: v}} }
	xy := []studies.Param{{Name: "x", Value: 0.1}, {Name: "y", Value: 0.2}}
	for _, c := range []struct {
		name   string
		set    [][]studies.Param
		lose   string // the statement that stands for the lost commit; $1 trial id
		finish func(id int64) error
		want   []studies.Param
	}{
		{"dominated", [][]studies.Param{xy}, "DELETE FROM trial_params WHERE trial_id = $1",
			func(id int64) error { return s.Complete(ctx, id, objectiveValues(0.4, 0.9), nil) }, xy},
		{"value replaced", [][]studies.Param{x(0.1), x(0.3)}, "UPDATE trial_params SET value = 0.1 WHERE trial_id = $1",
			func(id int64) error { return s.Complete(ctx, id, objectiveValues(0.4, 0.9), nil) }, x(0.3)},
		{"joins the front", [][]studies.Param{xy}, "DELETE FROM trial_params WHERE trial_id = $1 AND name = 'y'",
			func(id int64) error { return s.Complete(ctx, id, objectiveValues(0.6, 0), nil) }, xy},
		{"fail", [][]studies.Param{xy}, "DELETE FROM trial_params WHERE trial_id = $1",
			func(id int64) error { return s.Fail(ctx, id, "boom") }, xy},
		{"prune", [][]studies.Param{xy}, "DELETE FROM trial_params WHERE trial_id = $1",
			func(id int64) error { return s.Prune(ctx, id, nil) }, xy},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr, err := s.StartTrial(ctx, st.ID, "w")
			if err != nil {
				t.Fatal(err)
			}
			for _, ps := range c.set {
				if err := s.SetParams(ctx, tr.ID, ps); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := raw.ExecContext(ctx, c.lose, tr.ID); err != nil {
				t.Fatal(err)
			}
			if err := c.finish(tr.ID); err != nil {
				t.Fatal(err)
			}
			got, err := s.Trial(ctx, tr.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Params) != len(c.want) {
				t.Fatalf("parameters %+v, want %+v", got.Params, c.want)
			}
			for i, p := range got.Params {
				if p.Name != c.want[i].Name || p.Value != c.want[i].Value {
					t.Errorf("parameter %d: %+v, want %+v", i, p, c.want[i])
				}
			}
		})
	}
}
