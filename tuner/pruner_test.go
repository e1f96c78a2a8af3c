package tuner_test

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

	"github.com/fhetune/fhetune/studies"
	"github.com/fhetune/fhetune/tuner"
)

// prunedSpec is a small quantization-aware study on the digits: 2–5-bit weights, 3–4-bit
// activations, 60% of the neurons pruned, power-of-two scales, 5 epochs per training,
// random knobs, the default pruner (dominated). With seed 2 its trial 7 (4-bit weights,
// 3-bit activations) is less accurate after epoch 2 than trial 4 (2-bit weights, 3-bit
// activations) was, and is pruned; the sampler proposes those training knobs again for
// trial 10, which the runner changes (dedupe) rather than spend a trial on a training
// that would be stopped again.
func prunedSpec(t *testing.T, dir string) tuner.Spec {
	spec := modelSpec(t, dir)
	spec.Name = "pruned"
	spec.Trials = 12
	spec.Seed = 2
	spec.Sampler = tuner.SamplerSpec{Name: "random", Sweep: 1}
	spec.Space = tuner.SpaceSpec{
		NWBits: &tuner.Range{Low: 2, High: 5}, NABits: &tuner.Range{Low: 3, High: 4},
		Pruning: &tuner.Range{Low: 0.6, High: 0.6}, RoundingThresholdBits: &tuner.Range{OnlyOff: true},
		Training: &tuner.Choices{Values: []string{tuner.TrainingQAT}}, PowerOfTwoScaling: &tuner.Choices{Values: []string{"true"}},
	}
	return spec
}

// TestStudyPrunesDominatedTrainings runs a quantization-aware study with the default
// pruner: every training stores its validation accuracy per epoch; a training that a
// cheaper one beats is stopped and its trial stored PRUNED (no values, not on the front,
// no trained network kept); no later trial is sampled with the same training knobs; and
// the study resumes, from a stored spec written before pruners existed too, pruning an
// enqueued trial of the pruned training at once, without training.
func TestStudyPrunesDominatedTrainings(t *testing.T) {
	dir := t.TempDir()
	spec := prunedSpec(t, dir)
	ctx := context.Background()
	path := filepath.Join(dir, "s.db")
	db := openStore(t, path)
	sum, err := tuner.Run(ctx, db, newPlan(t, spec))
	if err != nil {
		t.Fatal(err)
	}
	st, ts := allTrials(t, db, spec.Name)
	if got := sum.Study.Spec; !strings.Contains(string(got), `"pruner":{"name":"dominated","startup_trainings":1,"warmup_epochs":1}`) {
		t.Errorf("stored spec %s: want the resolved default pruner", got)
	}
	var pruned []studies.Trial
	ran := 0 // trials whose training ran (to the end or until pruned)
	for _, tr := range ts {
		if len(tr.Intermediate) > 0 {
			ran++
			last := 0
			for e, v := range tr.Intermediate {
				last = max(last, e)
				if !(v >= 0 && v <= 1) {
					t.Errorf("trial %d: validation accuracy %v at epoch %d", tr.Number, v, e)
				}
			}
			if tr.State == studies.Complete && (last != tuner.DefaultQATEpochs || len(tr.Intermediate) != last+1) {
				t.Errorf("complete trial %d: intermediate values %v, want epochs 0..%d", tr.Number, tr.Intermediate, tuner.DefaultQATEpochs)
			}
		}
		switch tr.State {
		case studies.Complete:
		case studies.Pruned:
			pruned = append(pruned, tr)
		default:
			t.Errorf("trial %s", trialText(tr))
		}
	}
	if len(pruned) != 1 || sum.Pruned != 1 || sum.Complete != 11 || sum.Done != 12 {
		t.Fatalf("summary %+v: %d pruned trials, want 1 (and 11 complete)", sum, len(pruned))
	}
	if sum.Trainings != ran || sum.PrunedTrainings != 1 {
		t.Errorf("summary counts %d trainings (%d pruned), the store %d trainings: want them equal, 1 pruned", sum.Trainings, sum.PrunedTrainings, ran)
	}
	first := pruned[0]
	pe, ok, err := tuner.TrialPruning(first)
	if err != nil || !ok {
		t.Fatalf("trial %d: pruning %v, %v", first.Number, ok, err)
	}
	if pe.Rule != tuner.PrunerDominated || pe.Trial != first.Number || pe.Epoch < 2 || pe.Epoch >= tuner.DefaultQATEpochs ||
		!(pe.ValAccuracy < pe.Threshold) || pe.Comparable < 1 || len(first.Intermediate) != pe.Epoch+1 || first.Values != nil {
		t.Errorf("first pruned trial %s: %+v, intermediate %v", trialText(first), pe, first.Intermediate)
	}
	k1 := tuner.KnobsOf(first.Params, spec.FHE)
	for _, tr := range ts {
		if k := tuner.KnobsOf(tr.Params, spec.FHE); tr.Number != first.Number && k.NWBits == k1.NWBits && k.NABits == k1.NABits {
			t.Errorf("trial %d repeats the pruned training's knobs", tr.Number)
		}
	}
	for _, f := range sum.Front {
		if f.State != studies.Complete {
			t.Errorf("front trial %s", trialText(f))
		}
	}
	arts, err := db.Artifacts(ctx, st.ID)
	if err != nil {
		t.Fatal(err)
	}
	prefix := fmt.Sprintf("qat n_w_bits=%d n_a_bits=%d ", k1.NWBits, k1.NABits)
	stored := 0
	for _, a := range arts {
		if strings.HasPrefix(a.Name, "qat ") {
			stored++
		}
		if strings.HasPrefix(a.Name, prefix) {
			t.Errorf("the pruned training was stored as %q", a.Name)
		}
	}
	if stored != ran-1 {
		t.Errorf("%d trained networks stored for %d trainings run to the end", stored, ran-1)
	}

	// A study stored before pruners existed: its spec has no pruner field.
	raw, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(st.Spec, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "pruner")
	old, _ := json.Marshal(m)
	if _, err := raw.Exec("UPDATE studies SET spec = ? WHERE id = ?", string(old), st.ID); err != nil {
		t.Fatal(err)
	}
	// The knobs of the pruned training again, with another p_error: pruned at once.
	queued := enqueueAgain(t, db, st.ID, first)
	db2 := openStore(t, path) // another process
	spec.Trials = 14
	sum2, err := tuner.Run(ctx, db2, newPlan(t, spec))
	if err != nil {
		t.Fatalf("resume with a stored spec without a pruner: %v", err)
	}
	if sum2.Done != 14 || sum2.Ran != 2 || sum2.Pruned < 2 {
		t.Errorf("resumed summary: done %d, ran %d, pruned %d", sum2.Done, sum2.Ran, sum2.Pruned)
	}
	_, after := allTrials(t, db2, spec.Name)
	for i := range ts {
		if trialText(ts[i]) != trialText(after[i]) || len(ts[i].Intermediate) != len(after[i].Intermediate) {
			t.Errorf("trial %d changed on resume:\n%s\n%s", i, trialText(ts[i]), trialText(after[i]))
		}
	}
	q := after[queued.Number]
	if pq, ok, _ := tuner.TrialPruning(q); q.State != studies.Pruned || !ok || pq.Trial != first.Number || pq.Epoch != pe.Epoch || len(q.Intermediate) != 0 {
		t.Errorf("enqueued trial of the pruned training: %s %+v, intermediate %v", trialText(q), pq, q.Intermediate)
	}
}

// TestPrunerSpec: the pruner's YAML forms, defaults and errors, and the resume of a
// stored spec that has no pruner field.
func TestPrunerSpec(t *testing.T) {
	const qat = "space:\n  training: [ptq, qat]\n"
	for _, c := range []struct {
		name, yaml string
		want       string // the resolved pruner as JSON
	}{
		{"default with qat", qat, `{"name":"dominated","startup_trainings":1,"warmup_epochs":1}`},
		{"default without qat", "space:\n  training: ptq\n", `{"name":"none"}`},
		{"default study", "", ""},
		{"median", qat + "pruner: median\n", `{"name":"median","startup_trainings":3,"warmup_epochs":1}`},
		{"mapping", qat + "pruner: {name: Median, startup_trainings: 5, warmup_epochs: 0}\n", `{"name":"median","startup_trainings":5,"warmup_epochs":0}`},
		{"dominated after 2", qat + "pruner: {name: dominated, startup_trainings: 2}\n", `{"name":"dominated","startup_trainings":2,"warmup_epochs":1}`},
		{"none with qat", qat + "pruner: none\n", `{"name":"none"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := tuner.ParseSpec([]byte(c.yaml), "p.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if c.yaml == "" {
				s = tuner.DefaultSpec()
				c.want = `{"name":"dominated","startup_trainings":1,"warmup_epochs":1}`
			}
			r, err := s.Resolve()
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := json.Marshal(r.Pruner); string(got) != c.want {
				t.Errorf("pruner %s, want %s", got, c.want)
			}
			again, err := r.Resolve()
			if err != nil {
				t.Fatal(err)
			}
			a, _ := r.JSON()
			b, _ := again.JSON()
			if string(a) != string(b) {
				t.Errorf("resolving twice changed the spec:\n%s\n%s", a, b)
			}
			// A spec stored before pruners existed reads as this one.
			var m map[string]json.RawMessage
			if err := json.Unmarshal(a, &m); err != nil {
				t.Fatal(err)
			}
			delete(m, "pruner")
			old, _ := json.Marshal(m)
			stored, err := tuner.SpecFromJSON(old)
			if err != nil {
				t.Fatal(err)
			}
			if c.name == "default with qat" || c.name == "default without qat" || c.name == "default study" {
				if o, _ := stored.JSON(); string(o) != string(a) {
					t.Errorf("stored spec without a pruner resolves to\n%s\nwant\n%s", o, a)
				}
			}
		})
	}
	for _, c := range []struct {
		name, yaml string
		line       int
		want       string
	}{
		{"unknown pruner", qat + "pruner: hyperband\n", 3, `unknown pruner "hyperband" (known: none, dominated, median)`},
		{"without qat", "pruner: median\n", 1, "needs training qat in the space"},
		{"options of none", qat + "pruner: {name: none, warmup_epochs: 2}\n", 3, "apply to pruners dominated and median"},
		{"unknown key", qat + "pruner: {name: median, patience: 2}\n", 3, `unknown key "patience"`},
		{"negative startup", qat + "pruner:\n  name: median\n  startup_trainings: -1\n", 5, "pruner.startup_trainings: -1"},
		{"negative warm-up", qat + "pruner:\n  name: median\n  warmup_epochs: -1\n", 5, "pruner.warmup_epochs: -1"},
		{"sequence", qat + "pruner: [median]\n", 3, "want a name or a mapping"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := tuner.ParseSpec([]byte(c.yaml), "bad.yaml")
			if err == nil {
				_, err = s.Resolve()
			}
			var se *tuner.SpecError
			if !errors.As(err, &se) || se.Line != c.line || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want line %d and %q", err, c.line, c.want)
			}
		})
	}
}

// TestPrunerVerdictSharedByWorkers runs the pruned study's first eight trials (trial 7's
// training is pruned), enqueues a trial of that training, then runs the rest from two
// store handles at once (as two processes would): the enqueued trial, whichever handle
// claims it, is pruned at once on the stored verdict, and no trial of a pruned training
// that started after its verdict was stored trains a single epoch.
func TestPrunerVerdictSharedByWorkers(t *testing.T) {
	dir := t.TempDir()
	spec := prunedSpec(t, dir)
	ctx := context.Background()
	path := filepath.Join(dir, "s.db")
	first := spec
	first.Trials = 8
	db := openStore(t, path)
	if _, err := tuner.Run(ctx, db, newPlan(t, first)); err != nil {
		t.Fatal(err)
	}
	st, ts := allTrials(t, db, spec.Name)
	if ts[7].State != studies.Pruned {
		t.Fatalf("trial 7: %s, want it pruned", trialText(ts[7]))
	}
	queued := enqueueAgain(t, db, st.ID, ts[7])

	spec.Trials = 16
	plan := newPlan(t, spec)
	sums := make([]tuner.Summary, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range sums {
		db := openStore(t, path)
		wg.Add(1)
		go func() {
			defer wg.Done()
			sums[i], errs[i] = tuner.Run(ctx, db, plan)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if sums[0].Ran == 0 || sums[1].Ran == 0 {
		t.Errorf("the handles ran %d and %d trials: want both to take part", sums[0].Ran, sums[1].Ran)
	}
	_, ts = allTrials(t, db, spec.Name)
	if len(ts) < spec.Trials {
		t.Fatalf("%d trials, want %d", len(ts), spec.Trials)
	}
	q := ts[queued.Number]
	if pq, ok, _ := tuner.TrialPruning(q); q.State != studies.Pruned || !ok || pq.Trial != 7 || len(q.Intermediate) != 0 {
		t.Errorf("enqueued trial of the pruned training: %s %+v, intermediate %v", trialText(q), pq, q.Intermediate)
	}
	key := func(tr studies.Trial) string {
		k := tuner.KnobsOf(tr.Params, spec.FHE)
		return fmt.Sprint(k.NWBits, k.NABits)
	}
	for _, p := range ts {
		if p.State != studies.Pruned || len(p.Intermediate) == 0 {
			continue
		}
		for _, tr := range ts {
			if tr.Number != p.Number && key(tr) == key(p) && tr.Start.After(p.Finish) && len(tr.Intermediate) > 0 {
				t.Errorf("trial %d trained %d epochs of the training that trial %d's verdict stopped before it started",
					tr.Number, len(tr.Intermediate), p.Number)
			}
		}
	}
}

// enqueueAgain enqueues a trial with the knobs of tr but half its p_error: the same
// training, another trial.
func enqueueAgain(t *testing.T, db *studies.Store, studyID int64, tr studies.Trial) studies.Trial {
	t.Helper()
	again := append([]studies.Param(nil), tr.Params...)
	for i := range again {
		if again[i].Name == tuner.KnobPError {
			again[i].Value /= 2
		}
	}
	queued, err := db.Enqueue(context.Background(), studyID, again)
	if err != nil {
		t.Fatal(err)
	}
	return queued
}
