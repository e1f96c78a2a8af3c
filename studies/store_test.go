package studies_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fhetune/fhetune/studies"
)

// twoObjectives is the objective pair fhetune studies use.
var twoObjectives = []studies.Objective{
	{Name: "accuracy", Direction: studies.Maximize},
	{Name: "latency_ms", Direction: studies.Minimize},
}

// openTemp opens a fresh store in a temporary folder and closes it after the test.
func openTemp(t testing.TB, opts ...studies.Option) (*studies.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "studies.db")
	s, err := studies.Open(context.Background(), path, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func createStudy(t testing.TB, s *studies.Store, name string) studies.Study {
	t.Helper()
	st, err := s.CreateStudy(context.Background(), studies.NewStudy{
		Name:       name,
		Spec:       json.RawMessage(`{"dataset":"digits"}`),
		Objectives: twoObjectives,
		UserAttrs:  map[string]string{"owner": "test"},
	})
	if err != nil {
		t.Fatalf("CreateStudy(%q): %v", name, err)
	}
	return st
}

func TestStudyCRUD(t *testing.T) { eachBackend(t, testStudyCRUD) }

func testStudyCRUD(t *testing.T, b backend) {
	ctx := context.Background()
	s, path := b.open(t)
	st := createStudy(t, s, "mlp")
	if _, err := s.CreateStudy(ctx, studies.NewStudy{Name: "mlp", Objectives: twoObjectives}); !errors.Is(err, studies.ErrStudyExists) {
		t.Fatalf("duplicate CreateStudy: got %v, want ErrStudyExists", err)
	}
	got, err := s.Study(ctx, "mlp")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != st.ID || got.Name != "mlp" || string(got.Spec) != `{"dataset":"digits"}` ||
		len(got.Objectives) != 2 || got.Objectives[0] != twoObjectives[0] || got.UserAttrs["owner"] != "test" ||
		!got.Created.Equal(st.Created) {
		t.Fatalf("Study(mlp) = %+v, want %+v", got, st)
	}
	if err := s.SetStudyAttr(ctx, st.ID, "note", "first"); err != nil {
		t.Fatal(err)
	}
	if err := s.PutArtifact(ctx, st.ID, "base_model", []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	data, err := s.Artifact(ctx, st.ID, "base_model")
	if err != nil || string(data) != "\x01\x02\x03" {
		t.Fatalf("Artifact = %v, %v", data, err)
	}
	if _, err := s.Artifact(ctx, st.ID, "other"); !errors.Is(err, studies.ErrNoArtifact) {
		t.Fatalf("missing artifact: got %v", err)
	}
	if _, err := s.Study(ctx, "nope"); !errors.Is(err, studies.ErrNoStudy) {
		t.Fatalf("Study(nope): got %v, want ErrNoStudy", err)
	}
	createStudy(t, s, "cnn")
	list, err := s.Studies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "mlp" || list[1].Name != "cnn" || list[0].UserAttrs["note"] != "first" {
		t.Fatalf("Studies = %+v", list)
	}
	for range 3 {
		tr, err := s.StartTrial(ctx, st.ID, "w")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetParams(ctx, tr.ID, []studies.Param{{Name: "x", Value: 1}}); err != nil {
			t.Fatal(err)
		}
		if err := s.Complete(ctx, tr.ID, []float64{0.5, 1}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteStudy(ctx, "mlp"); err != nil {
		t.Fatal(err)
	}
	raw := rawDB(t, path)
	// Only "mlp" had trials, so the trial tables must be empty.
	for _, query := range []string{
		"SELECT count(*) FROM trials", "SELECT count(*) FROM trial_params", "SELECT count(*) FROM trial_values",
		"SELECT count(*) FROM pareto_front", "SELECT count(*) FROM artifacts WHERE study_id = ?",
		"SELECT count(*) FROM study_attrs WHERE study_id = ?", "SELECT count(*) FROM study_objectives WHERE study_id = ?",
	} {
		var n int
		args := []any{}
		if strings.Contains(query, "?") {
			args = append(args, st.ID)
		}
		if studies.IsPostgresURL(path) {
			query = strings.Replace(query, "?", "$1", 1)
		}
		if err := raw.QueryRow(query, args...).Scan(&n); err != nil || n != 0 {
			t.Errorf("%s = %d (%v) after deleting the study, want 0", query, n, err)
		}
	}
	if err := s.DeleteStudy(ctx, "mlp"); !errors.Is(err, studies.ErrNoStudy) {
		t.Fatalf("second delete: got %v", err)
	}
	if _, err := s.Artifact(ctx, st.ID, "base_model"); !errors.Is(err, studies.ErrNoStudy) {
		t.Fatalf("artifact of deleted study: got %v", err)
	}
}

func TestTrialLifecycle(t *testing.T) { eachBackend(t, testTrialLifecycle) }

func testTrialLifecycle(t *testing.T, be backend) {
	ctx := context.Background()
	s, _ := be.open(t)
	st := createStudy(t, s, "mlp")
	q, err := s.Enqueue(ctx, st.ID, []studies.Param{{Name: "n_w_bits", Value: 4}})
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.StartTrial(ctx, st.ID, "w1")
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != q.ID || a.Number != 0 || a.State != studies.Running || len(a.Params) != 1 || a.Worker != "w1" {
		t.Fatalf("StartTrial popped %+v, want enqueued trial %+v RUNNING", a, q)
	}
	b, err := s.StartTrial(ctx, st.ID, "w2")
	if err != nil {
		t.Fatal(err)
	}
	if b.Number != 1 || len(b.Params) != 0 {
		t.Fatalf("second StartTrial = %+v, want new trial 1", b)
	}
	if err := s.SetParams(ctx, b.ID, []studies.Param{{Name: "x", Value: 0.5, Distribution: json.RawMessage(`{"low":0,"high":1}`)}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Heartbeat(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Complete(ctx, a.ID, []float64{0.9, 10}, json.RawMessage(`{"pbs":12}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.Complete(ctx, a.ID, []float64{0.9, 10}, nil); !errors.Is(err, studies.ErrTrialFinished) {
		t.Fatalf("second Complete: got %v, want ErrTrialFinished", err)
	}
	if err := s.Complete(ctx, b.ID, []float64{0.9}, nil); !errors.Is(err, studies.ErrInvalid) {
		t.Fatalf("Complete with one value: got %v, want ErrInvalid", err)
	}
	if err := s.Fail(ctx, b.ID, "boom"); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"SetParams": s.SetParams(ctx, b.ID, []studies.Param{{Name: "y", Value: 1}}),
		"Heartbeat": s.Heartbeat(ctx, b.ID),
		"Fail":      s.Fail(ctx, b.ID, "again"),
		"Prune":     s.Prune(ctx, b.ID, nil),
	} {
		if !errors.Is(err, studies.ErrTrialFinished) {
			t.Errorf("%s on a failed trial: got %v, want ErrTrialFinished", name, err)
		}
	}
	got, err := s.Trial(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != studies.Fail || got.Error != "boom" || got.Params[0].Name != "x" || string(got.Params[0].Distribution) != `{"low":0,"high":1}` {
		t.Fatalf("failed trial = %+v", got)
	}
	done, err := s.Trials(ctx, st.ID, studies.TrialFilter{States: []studies.State{studies.Complete}})
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != 1 || done[0].Values[0] != 0.9 || done[0].Values[1] != 10 || string(done[0].Attrs) != `{"pbs":12}` {
		t.Fatalf("complete trials = %+v", done)
	}
	front, err := s.ParetoFront(ctx, st.ID)
	if err != nil || len(front) != 1 || front[0].ID != a.ID {
		t.Fatalf("ParetoFront = %+v, %v", front, err)
	}
}

func TestReapStale(t *testing.T) { eachBackend(t, testReapStale) }

func testReapStale(t *testing.T, b backend) {
	ctx := context.Background()
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s, _ := b.open(t, studies.WithClock(func() time.Time { return now }))
	st := createStudy(t, s, "mlp")
	old, _ := s.StartTrial(ctx, st.ID, "dead")
	if err := s.SetParams(ctx, old.ID, []studies.Param{{Name: "p", Value: 3}}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	fresh, _ := s.StartTrial(ctx, st.ID, "alive")
	now = now.Add(30 * time.Second)
	n, err := s.ReapStale(ctx, st.ID, time.Minute)
	if err != nil || n != 1 {
		t.Fatalf("ReapStale = %d, %v; want 1", n, err)
	}
	got, _ := s.Trial(ctx, old.ID)
	if got.State != studies.Fail {
		t.Fatalf("stale trial state %v, want FAIL", got.State)
	}
	if f, _ := s.Trial(ctx, fresh.ID); f.State != studies.Running {
		t.Fatalf("fresh trial state %v, want RUNNING", f.State)
	}
	next, err := s.StartTrial(ctx, st.ID, "w")
	if err != nil {
		t.Fatal(err)
	}
	if next.Number != 2 || next.RetryOf != old.Number || len(next.Params) != 1 || next.Params[0].Value != 3 {
		t.Fatalf("re-enqueued trial = %+v", next)
	}
}

func TestSchemaRecorded(t *testing.T) {
	b := sqliteBackend
	_, path := b.open(t)
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var version, app, rows int
	var mode string
	if err := db.QueryRow("PRAGMA user_version").Scan(&version); err != nil || version != studies.SchemaVersion() {
		t.Fatalf("user_version = %d (%v), want %d", version, err, studies.SchemaVersion())
	}
	if err := db.QueryRow("PRAGMA application_id").Scan(&app); err != nil || app == 0 {
		t.Fatalf("application_id = %#x (%v)", app, err)
	}
	if err := db.QueryRow("SELECT count(*) FROM schema_migrations").Scan(&rows); err != nil || rows != studies.SchemaVersion() {
		t.Fatalf("schema_migrations has %d rows (%v), want %d", rows, err, studies.SchemaVersion())
	}
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q (%v), want wal", mode, err)
	}
}

func TestCloseIdempotent(t *testing.T) { eachBackend(t, testCloseIdempotent) }

func testCloseIdempotent(t *testing.T, b backend) {
	s, _ := b.open(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.Studies(context.Background()); !errors.Is(err, studies.ErrClosed) {
		t.Fatalf("Studies after Close: got %v, want ErrClosed", err)
	}
	if _, err := s.CreateStudy(context.Background(), studies.NewStudy{Name: "x", Objectives: twoObjectives}); !errors.Is(err, studies.ErrClosed) {
		t.Fatalf("CreateStudy after Close: got %v, want ErrClosed", err)
	}
}

func TestProfiles(t *testing.T) { eachBackend(t, testProfiles) }

func testProfiles(t *testing.T, b backend) {
	ctx := context.Background()
	s, _ := b.open(t)
	if _, err := s.LatestProfile(ctx); !errors.Is(err, studies.ErrNoProfile) {
		t.Fatalf("LatestProfile on a new store: got %v, want ErrNoProfile", err)
	}
	first, err := s.SaveProfile(ctx, "amd64 2 cores", json.RawMessage(`{"pbs_ms":[14,49]}`))
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.SaveProfile(ctx, "amd64 2 cores", json.RawMessage(`{"pbs_ms":[13,48]}`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.LatestProfile(ctx)
	if err != nil || p.ID != second || p.Machine != "amd64 2 cores" || string(p.Payload) != `{"pbs_ms":[13,48]}` || p.Created.IsZero() {
		t.Fatalf("LatestProfile = %+v, %v", p, err)
	}
	if p, err := s.Profile(ctx, first); err != nil || string(p.Payload) != `{"pbs_ms":[14,49]}` {
		t.Fatalf("Profile(first) = %+v, %v", p, err)
	}
}

func TestTrialFilter(t *testing.T) { eachBackend(t, testTrialFilter) }

func testTrialFilter(t *testing.T, b backend) {
	ctx := context.Background()
	s, _ := b.open(t)
	st := createStudy(t, s, "f")
	for i := range 10 {
		tr, err := s.StartTrial(ctx, st.ID, "w")
		if err != nil {
			t.Fatal(err)
		}
		switch i % 3 {
		case 0:
			err = s.Complete(ctx, tr.ID, []float64{float64(i), float64(i)}, nil)
		case 1:
			err = s.Fail(ctx, tr.ID, "x")
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Enqueue(ctx, st.ID, []studies.Param{{Name: "x", Value: 1}}); err != nil {
		t.Fatal(err)
	}
	numbers := func(f studies.TrialFilter) []int {
		ts, err := s.Trials(ctx, st.ID, f)
		if err != nil {
			t.Fatal(err)
		}
		var ns []int
		for _, tr := range ts {
			ns = append(ns, tr.Number)
		}
		return ns
	}
	for _, c := range []struct {
		name string
		f    studies.TrialFilter
		want string
	}{
		{"all", studies.TrialFilter{}, "[0 1 2 3 4 5 6 7 8 9 10]"},
		{"complete", studies.TrialFilter{States: []studies.State{studies.Complete}}, "[0 3 6 9]"},
		{"running or waiting", studies.TrialFilter{States: []studies.State{studies.Running, studies.Waiting}}, "[2 5 8 10]"},
		{"from 5", studies.TrialFilter{FromNumber: 5}, "[5 6 7 8 9 10]"},
		{"limit", studies.TrialFilter{FromNumber: 2, Limit: 3}, "[2 3 4]"},
		{"fail limit", studies.TrialFilter{States: []studies.State{studies.Fail}, Limit: 2}, "[1 4]"},
	} {
		if got := fmt.Sprint(numbers(c.f)); got != c.want {
			t.Errorf("%s: numbers %s, want %s", c.name, got, c.want)
		}
	}
	if _, err := s.Trials(ctx, 999, studies.TrialFilter{}); !errors.Is(err, studies.ErrNoStudy) {
		t.Fatalf("Trials of an unknown study: got %v", err)
	}
}

// TestConcurrentGoroutines shares one Store between goroutines.
func TestConcurrentGoroutines(t *testing.T) { eachBackend(t, testConcurrentGoroutines) }

func testConcurrentGoroutines(t *testing.T, b backend) {
	ctx := context.Background()
	s, _ := b.open(t)
	st := createStudy(t, s, "g")
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				tr, err := s.StartTrial(ctx, st.ID, fmt.Sprint("g", w))
				if err != nil {
					errs <- err
					return
				}
				if _, err := s.Studies(ctx); err != nil {
					errs <- err
					return
				}
				if err := s.Complete(ctx, tr.ID, []float64{float64(w), float64(i)}, nil); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	trials, err := s.Trials(ctx, st.ID, studies.TrialFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(trials) != workers*each {
		t.Fatalf("%d trials, want %d", len(trials), workers*each)
	}
	for i, tr := range trials {
		if tr.Number != i || tr.State != studies.Complete {
			t.Fatalf("position %d: trial %d %s", i, tr.Number, tr.State)
		}
	}
	assertFront(t, s, st, trials)
}

func TestSetParamsReplacesAndAppends(t *testing.T) { eachBackend(t, testSetParamsReplacesAndAppends) }

func testSetParamsReplacesAndAppends(t *testing.T, b backend) {
	ctx := context.Background()
	s, _ := b.open(t)
	st := createStudy(t, s, "p")
	tr, err := s.StartTrial(ctx, st.ID, "w")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetParams(ctx, tr.ID, []studies.Param{{Name: "a", Value: 1}, {Name: "b", Value: 2}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetParams(ctx, tr.ID, []studies.Param{{Name: "b", Value: 20, Distribution: json.RawMessage(`[1]`)}, {Name: "c", Value: 3}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Trial(ctx, tr.ID)
	if err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprint(got.Params); s != "[{a 1 []} {b 20 [91 49 93]} {c 3 []}]" {
		t.Fatalf("params = %s, want a=1, b=20 (with its new distribution), c=3 in that order", s)
	}
}

func TestAnnotateTrial(t *testing.T) { eachBackend(t, testAnnotateTrial) }

func testAnnotateTrial(t *testing.T, be backend) {
	ctx := context.Background()
	s, _ := be.open(t)
	st := createStudy(t, s, "mlp")
	a, err := s.StartTrial(ctx, st.ID, "w1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.StartTrial(ctx, st.ID, "w1")
	if err != nil {
		t.Fatal(err)
	}
	note := map[string]json.RawMessage{"verified": json.RawMessage(`{"agreement":1}`)}
	if err := s.AnnotateTrial(ctx, a.ID, note); !errors.Is(err, studies.ErrTrialNotComplete) {
		t.Fatalf("running trial: got %v, want ErrTrialNotComplete", err)
	}
	if err := s.Complete(ctx, a.ID, []float64{0.9, 10}, json.RawMessage(`{"pbs":12}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.AnnotateTrial(ctx, a.ID, note); err != nil {
		t.Fatal(err)
	}
	// A second annotation replaces its key and keeps the others.
	if err := s.AnnotateTrial(ctx, a.ID, map[string]json.RawMessage{"verified": json.RawMessage(`{"agreement":0.5}`)}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Trial(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(got.Attrs, &m); err != nil || string(m["pbs"]) != "12" || string(m["verified"]) != `{"agreement":0.5}` {
		t.Fatalf("attributes %s: %v", got.Attrs, err)
	}
	if got.State != studies.Complete || len(got.Values) != 2 || got.Values[0] != 0.9 {
		t.Errorf("annotation changed the trial: %+v", got)
	}
	if err := s.Fail(ctx, b.ID, "boom"); err != nil {
		t.Fatal(err)
	}
	if err := s.AnnotateTrial(ctx, b.ID, note); !errors.Is(err, studies.ErrTrialNotComplete) {
		t.Errorf("failed trial: got %v, want ErrTrialNotComplete", err)
	}
	if err := s.AnnotateTrial(ctx, a.ID, map[string]json.RawMessage{"x": json.RawMessage(`{bad`)}); !errors.Is(err, studies.ErrInvalid) {
		t.Errorf("bad JSON: got %v, want ErrInvalid", err)
	}
}
