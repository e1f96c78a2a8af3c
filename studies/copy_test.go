package studies_test

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/fhetune/fhetune/studies"
)

// fillStudy gives a study of s trials in every state, parameters with distributions,
// attributes, intermediate values and goptuna attributes, artifacts (one empty) and a
// front.
func fillStudy(t testing.TB, s *studies.Store, name string, n int) studies.Study {
	t.Helper()
	ctx := context.Background()
	st := createStudy(t, s, name)
	for _, a := range []struct {
		name string
		data []byte
	}{{"base_model", []byte{0, 1, 2, 255}}, {"empty", nil}} {
		if err := s.PutArtifact(ctx, st.ID, a.name, a.data); err != nil {
			t.Fatal(err)
		}
	}
	g := studies.NewGoptunaStorage(s)
	if err := g.SetStudySystemAttr(int(st.ID), "sampler", "nsga2"); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, uint64(n)))
	for i := range n {
		tr, err := s.StartTrial(ctx, st.ID, "w")
		if err != nil {
			t.Fatal(err)
		}
		x, y := rng.Float64(), rng.Float64()
		if err := s.SetParams(ctx, tr.ID, []studies.Param{{Name: "x", Value: x, Distribution: json.RawMessage(`{"low":0,"high":1}`)},
			{Name: "y", Value: y}}); err != nil {
			t.Fatal(err)
		}
		switch i % 7 {
		case 3:
			err = s.Fail(ctx, tr.ID, "planned failure")
		case 5:
			err = s.Prune(ctx, tr.ID, json.RawMessage(`{"why":"slow"}`))
		case 6:
			if err = g.SetTrialIntermediateValue(int(tr.ID), 1, x); err == nil {
				err = g.SetTrialUserAttr(int(tr.ID), "note", "running")
			}
		default:
			err = s.Complete(ctx, tr.ID, objectiveValues(x, y), json.RawMessage(`{"eval_ms":1.5}`))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Enqueue(ctx, st.ID, []studies.Param{{Name: "x", Value: 0.5}}); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestCopyStudy copies a study between every pair of backends and checks that the
// copy reads back the same as the original, apart from database ids.
func TestCopyStudy(t *testing.T) {
	for _, from := range []backend{sqliteBackend, postgresBackend} {
		for _, to := range []backend{sqliteBackend, postgresBackend} {
			t.Run(from.name+"-to-"+to.name, func(t *testing.T) {
				ctx := context.Background()
				src, _ := from.open(t)
				dst, _ := to.open(t)
				fillStudy(t, src, "mlp", 40)
				createStudy(t, dst, "other")
				cp, err := studies.CopyStudy(ctx, src, dst, "mlp")
				if err != nil {
					t.Fatal(err)
				}
				assertSameStudy(t, src, dst, "mlp")
				if cp.Name != "mlp" {
					t.Fatalf("copy is called %q", cp.Name)
				}
				if _, err := studies.CopyStudy(ctx, src, dst, "mlp"); !errors.Is(err, studies.ErrStudyExists) {
					t.Fatalf("second copy: got %v, want ErrStudyExists", err)
				}
				if _, err := studies.CopyStudy(ctx, src, dst, "nope"); !errors.Is(err, studies.ErrNoStudy) {
					t.Fatalf("copy of a missing study: got %v, want ErrNoStudy", err)
				}
				// The copy is a study like any other: it takes new trials.
				tr, err := dst.StartTrial(ctx, cp.ID, "w")
				if err != nil || tr.Number != 40 || len(tr.Params) != 1 {
					t.Fatalf("StartTrial on the copy = %+v, %v; want the enqueued trial 40", tr, err)
				}
			})
		}
	}
}

// assertSameStudy compares a study in two stores: summary, attributes, artifacts,
// trials (without ids) and front (by number).
func assertSameStudy(t *testing.T, a, b *studies.Store, name string) {
	t.Helper()
	ctx := context.Background()
	sa, err := a.Summary(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := b.Summary(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	sa.ID, sb.ID = 0, 0
	if !reflect.DeepEqual(sa, sb) {
		t.Fatalf("summaries differ:\n%+v\n%+v", sa, sb)
	}
	ga, gb := studies.NewGoptunaStorage(a), studies.NewGoptunaStorage(b)
	ida, _ := ga.GetStudyIDFromName(name)
	idb, _ := gb.GetStudyIDFromName(name)
	sysA, _ := ga.GetStudySystemAttrs(ida)
	sysB, _ := gb.GetStudySystemAttrs(idb)
	if !reflect.DeepEqual(sysA, sysB) || len(sysA) == 0 {
		t.Fatalf("system attributes differ: %v, %v", sysA, sysB)
	}
	for _, art := range []string{"base_model", "empty"} {
		da, err1 := a.Artifact(ctx, int64(ida), art)
		db, err2 := b.Artifact(ctx, int64(idb), art)
		if err1 != nil || err2 != nil || string(da) != string(db) {
			t.Fatalf("artifact %s: %v (%v), %v (%v)", art, da, err1, db, err2)
		}
	}
	ta := trialsWithoutIDs(t, a, int64(ida))
	tb := trialsWithoutIDs(t, b, int64(idb))
	if !reflect.DeepEqual(ta, tb) {
		t.Fatalf("trials differ:\n%+v\n%+v", ta, tb)
	}
	fa, fb := frontNumbers(t, a, int64(ida)), frontNumbers(t, b, int64(idb))
	if !reflect.DeepEqual(fa, fb) || len(fa) == 0 {
		t.Fatalf("fronts differ: %v, %v", fa, fb)
	}
	fta, _ := ga.GetAllTrials(ida)
	ftb, _ := gb.GetAllTrials(idb)
	for i := range fta {
		if !reflect.DeepEqual(fta[i].IntermediateValues, ftb[i].IntermediateValues) ||
			!reflect.DeepEqual(fta[i].UserAttrs, ftb[i].UserAttrs) {
			t.Fatalf("goptuna trial %d differs: %+v, %+v", i, fta[i], ftb[i])
		}
	}
}

func trialsWithoutIDs(t *testing.T, s *studies.Store, studyID int64) []studies.Trial {
	t.Helper()
	ts, err := s.Trials(context.Background(), studyID, studies.TrialFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range ts {
		ts[i].ID, ts[i].StudyID = 0, 0
	}
	return ts
}

func frontNumbers(t *testing.T, s *studies.Store, studyID int64) []int {
	t.Helper()
	front, err := s.ParetoFront(context.Background(), studyID)
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, tr := range front {
		out = append(out, tr.Number)
	}
	return out
}
