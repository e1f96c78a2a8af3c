package studies_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
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

func TestStudyCRUD(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
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
	if err := s.DeleteStudy(ctx, "mlp"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteStudy(ctx, "mlp"); !errors.Is(err, studies.ErrNoStudy) {
		t.Fatalf("second delete: got %v", err)
	}
	if _, err := s.Artifact(ctx, st.ID, "base_model"); !errors.Is(err, studies.ErrNoStudy) {
		t.Fatalf("artifact of deleted study: got %v", err)
	}
	_ = path
}

func TestTrialLifecycle(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
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

func TestReapStale(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s, _ := openTemp(t, studies.WithClock(func() time.Time { return now }))
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
