package tuner_test

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fhetune/fhetune/studies"
	"github.com/fhetune/fhetune/tuner"
	"github.com/fhetune/fhetune/tuner/model"
)

// TestRunDeterministic runs the default study (real objective, 12 trials, one worker)
// twice into two databases: the trials and their values must be the same.
func TestRunDeterministic(t *testing.T) {
	dir := t.TempDir()
	spec := modelSpec(t, dir)
	spec.Trials = 12
	var runs [][]string
	for i := 0; i < 2; i++ {
		db := openStore(t, filepath.Join(dir, "s"+strconv.Itoa(i)+".db"))
		sum, err := tuner.Run(context.Background(), db, newPlan(t, spec))
		if err != nil {
			t.Fatal(err)
		}
		if sum.Done != 12 || sum.Interrupted || sum.Ran != 12 || len(sum.Front) == 0 || sum.FloatAccuracy < 0.9 {
			t.Fatalf("summary: done %d ran %d interrupted %v front %d float %v", sum.Done, sum.Ran, sum.Interrupted, len(sum.Front), sum.FloatAccuracy)
		}
		st, ts := allTrials(t, db, tuner.DefaultStudyName)
		var texts []string
		for i, tr := range ts {
			if tr.Number != i || !tr.State.Finished() {
				t.Fatalf("trial %d: %s", i, trialText(tr))
			}
			if tr.State == studies.Complete {
				res, ok, err := tuner.TrialResult(tr)
				if !ok || err != nil || len(res.Layers) == 0 || res.Accuracy != tr.Values[0] || res.LatencyMS != tr.Values[1] {
					t.Fatalf("trial %d attributes: %v %v %+v", i, ok, err, res)
				}
			}
			texts = append(texts, trialText(tr))
		}
		runs = append(runs, texts)
		arts, err := db.Artifacts(context.Background(), st.ID)
		if err != nil || len(arts) != 2 || arts[0].Name != tuner.ArtifactBaseModel || arts[1].Name != tuner.ArtifactProfile {
			t.Fatalf("artifacts %+v, %v", arts, err)
		}
		if st.UserAttrs[tuner.AttrFloatAccuracy] == "" || st.UserAttrs[tuner.AttrCalibration] == "" || st.UserAttrs[tuner.AttrTrials] != "12" {
			t.Fatalf("study attributes %v", st.UserAttrs)
		}
	}
	if !reflect.DeepEqual(runs[0], runs[1]) {
		t.Fatalf("same seed, one worker, different trials:\n%s\n---\n%s", strings.Join(runs[0], "\n"), strings.Join(runs[1], "\n"))
	}
	// Another seed samples other knobs.
	spec.Seed = 1
	db := openStore(t, filepath.Join(dir, "seed1.db"))
	if _, err := tuner.Run(context.Background(), db, newPlan(t, spec)); err != nil {
		t.Fatal(err)
	}
	_, ts := allTrials(t, db, tuner.DefaultStudyName)
	if trialText(ts[0]) == runs[0][0] {
		t.Fatalf("seed 1 repeated seed 0's first trial: %s", runs[0][0])
	}
}

// TestRunResumeContinues stops a study at 8 trials and asks for 14: numbering and
// sampling continue, earlier trials are untouched and the stored base model is reused.
func TestRunResumeContinues(t *testing.T) {
	dir := t.TempDir()
	spec := modelSpec(t, dir)
	spec.Trials = 8
	ctx := context.Background()
	db := openStore(t, filepath.Join(dir, "s.db"))
	if _, err := tuner.Run(ctx, db, newPlan(t, spec), tuner.WithEvaluator(fixtureEval)); err != nil {
		t.Fatal(err)
	}
	st, before := allTrials(t, db, tuner.DefaultStudyName)
	// Replace the stored base model by one that always predicts class 0: a resumed study
	// must read it (its float accuracy drops to about a tenth), not train or load anew.
	b, err := db.Artifact(ctx, st.ID, tuner.ArtifactBaseModel)
	if err != nil {
		t.Fatal(err)
	}
	net := new(model.Network)
	if err := net.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	net.Layers[len(net.Layers)-1].(*model.Linear).B[0] += 1e6
	if b, err = net.MarshalBinary(); err != nil {
		t.Fatal(err)
	}
	if err := db.PutArtifact(ctx, st.ID, tuner.ArtifactBaseModel, b); err != nil {
		t.Fatal(err)
	}
	resumed, err := tuner.ResumeSpec(st)
	if err != nil {
		t.Fatal(err)
	}
	if resumed.Trials != 8 {
		t.Fatalf("resume spec trials %d", resumed.Trials)
	}
	resumed.Trials = 14
	sum, err := tuner.Run(ctx, db, newPlan(t, resumed), tuner.WithEvaluator(fixtureEval))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Done != 14 || sum.Ran != 6 || sum.FloatAccuracy > 0.2 {
		t.Fatalf("resumed summary: done %d ran %d float accuracy %v", sum.Done, sum.Ran, sum.FloatAccuracy)
	}
	st, after := allTrials(t, db, tuner.DefaultStudyName)
	if len(after) != 14 || st.UserAttrs[tuner.AttrTrials] != "14" {
		t.Fatalf("%d trials, attrs %v", len(after), st.UserAttrs)
	}
	for i := range before {
		if trialText(before[i]) != trialText(after[i]) {
			t.Fatalf("trial %d changed:\n%s\n%s", i, trialText(before[i]), trialText(after[i]))
		}
	}
	// The continuation is the study one run of 14 trials gives.
	db2 := openStore(t, filepath.Join(dir, "once.db"))
	spec.Trials = 14
	if _, err := tuner.Run(ctx, db2, newPlan(t, spec), tuner.WithEvaluator(fixtureEval)); err != nil {
		t.Fatal(err)
	}
	_, once := allTrials(t, db2, tuner.DefaultStudyName)
	for i := range once {
		if trialText(once[i]) != trialText(after[i]) {
			t.Fatalf("trial %d: resumed %s, in one run %s", i, trialText(after[i]), trialText(once[i]))
		}
	}
}

// TestRunFailedTrialsKeepErrors: trials whose objective fails are stored with the error
// and count towards the study, which goes on.
func TestRunFailedTrialsKeepErrors(t *testing.T) {
	dir := t.TempDir()
	spec := modelSpec(t, dir)
	spec.Trials = 20
	spec.Sampler.Name = "random"
	rt, _ := tuner.ParseRange("off")
	spec.Space.RoundingThresholdBits = &rt
	db := openStore(t, filepath.Join(dir, "s.db"))
	sum, err := tuner.Run(context.Background(), db, newPlan(t, spec), tuner.WithEvaluator(fixtureEval))
	if err != nil {
		t.Fatal(err)
	}
	_, ts := allTrials(t, db, tuner.DefaultStudyName)
	fails := 0
	for _, tr := range ts {
		if tr.State == studies.Fail {
			fails++
			if !strings.Contains(tr.Error, "fixture: accumulator") || len(tr.Params) == 0 {
				t.Fatalf("failed trial: %s", trialText(tr))
			}
		}
	}
	if fails == 0 || fails == 20 || sum.Failed != fails || sum.Done != 20 || len(ts) != 20 {
		t.Fatalf("%d failures, summary %+v", fails, sum)
	}
}

// blockingEval completes trials with fixtureEval except the one numbered block in call
// order, which waits for release or its context.
type blockingEval struct {
	calls   atomic.Int32
	block   int32
	blocked chan struct{} // closed when the blocking call starts
	release chan struct{}
}

func (b *blockingEval) eval(ctx context.Context, k tuner.Knobs) (tuner.Result, error) {
	if b.calls.Add(1)-1 == b.block {
		close(b.blocked)
		select {
		case <-ctx.Done():
			return tuner.Result{}, ctx.Err()
		case <-b.release:
		}
	}
	return fixtureEval(ctx, k)
}

// TestRunInterruptRequeues cancels Run while a trial runs: the trial is failed as
// interrupted, its knobs are queued again, and the resumed study runs them first and
// ends with the number of trials asked for.
func TestRunInterruptRequeues(t *testing.T) {
	dir := t.TempDir()
	spec := modelSpec(t, dir)
	spec.Trials = 10
	db := openStore(t, filepath.Join(dir, "s.db"))
	be := &blockingEval{block: 3, blocked: make(chan struct{}), release: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-be.blocked
		cancel()
	}()
	sum, err := tuner.Run(ctx, db, newPlan(t, spec), tuner.WithEvaluator(be.eval))
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Interrupted || sum.Done != 3 {
		t.Fatalf("summary after cancel: interrupted %v done %d", sum.Interrupted, sum.Done)
	}
	st, ts := allTrials(t, db, tuner.DefaultStudyName)
	if len(ts) != 5 || ts[3].State != studies.Fail || !strings.HasPrefix(ts[3].Error, "tuner: interrupted; parameters enqueued again as trial 4") ||
		ts[4].State != studies.Waiting || !reflect.DeepEqual(ts[4].Params, ts[3].Params) {
		for _, tr := range ts {
			t.Log(trialText(tr))
		}
		t.Fatal("want trials 0-2 complete, 3 interrupted and 4 queued with its knobs")
	}
	spec2, err := tuner.ResumeSpec(st)
	if err != nil {
		t.Fatal(err)
	}
	sum, err = tuner.Run(context.Background(), db, newPlan(t, spec2), tuner.WithEvaluator(fixtureEval))
	if err != nil || sum.Done != 10 || sum.Interrupted {
		t.Fatalf("resume: %+v, %v", sum, err)
	}
	_, ts = allTrials(t, db, tuner.DefaultStudyName)
	if len(ts) != 11 || ts[4].State != studies.Complete || sum.Complete != 10 {
		for _, tr := range ts {
			t.Log(trialText(tr))
		}
		t.Fatal("want 11 trials: 10 complete and the interrupted one")
	}
}

// TestRunStopLetsTrialsFinish closes the stop channel while a trial runs: that trial
// completes and is stored, and no other starts.
func TestRunStopLetsTrialsFinish(t *testing.T) {
	dir := t.TempDir()
	spec := modelSpec(t, dir)
	spec.Trials = 10
	db := openStore(t, filepath.Join(dir, "s.db"))
	be := &blockingEval{block: 2, blocked: make(chan struct{}), release: make(chan struct{})}
	stop := make(chan struct{})
	go func() {
		<-be.blocked
		close(stop)
		close(be.release)
	}()
	var reports []tuner.Progress
	sum, err := tuner.Run(context.Background(), db, newPlan(t, spec), tuner.WithEvaluator(be.eval), tuner.WithStop(stop),
		tuner.WithProgress(func(p tuner.Progress) { reports = append(reports, p) }))
	if err != nil {
		t.Fatal(err)
	}
	_, ts := allTrials(t, db, tuner.DefaultStudyName)
	if !sum.Interrupted || sum.Done != 3 || len(ts) != 3 || ts[2].State != studies.Complete {
		t.Fatalf("summary: interrupted %v done %d, %d trials", sum.Interrupted, sum.Done, len(ts))
	}
	if len(reports) != 4 || reports[0].Last != nil || reports[3].Done != 3 || reports[3].Total != 10 ||
		reports[3].Last == nil || reports[3].Last.Number != 2 || reports[3].FrontSize == 0 || reports[3].ETA <= 0 {
		t.Fatalf("progress reports: %+v", reports)
	}
	for i := 1; i < len(reports); i++ {
		if reports[i].Hypervolume < reports[i-1].Hypervolume {
			t.Fatalf("hypervolume decreased: %+v", reports)
		}
	}
}

// TestRunProcessesCooperate runs one study from three store handles at once (as three
// processes would), two workers each: every trial has its own number and the study ends
// with exactly the trials asked for; a trial that lost the race for the last ones (at
// most one per other handle) failed without knobs as not needed.
func TestRunProcessesCooperate(t *testing.T) {
	dir := t.TempDir()
	spec := modelSpec(t, dir)
	spec.Trials = 30
	spec.Workers = 2
	path := filepath.Join(dir, "s.db")
	plan := newPlan(t, spec)
	// Create the study and its base model first, so the three runs only race for trials.
	first := openStore(t, path)
	one := spec
	one.Trials = 1
	if _, err := tuner.Run(context.Background(), first, newPlan(t, one), tuner.WithEvaluator(fixtureEval)); err != nil {
		t.Fatal(err)
	}
	// Each run's first evaluation waits until all three runs have claimed a trial, so
	// every run takes part however the goroutines are scheduled.
	const runs = 3
	var arrived sync.WaitGroup
	arrived.Add(runs)
	all := make(chan struct{})
	go func() { arrived.Wait(); close(all) }()
	var wg sync.WaitGroup
	errs := make([]error, runs)
	evaluated := make([]atomic.Int64, runs)
	for i := range errs {
		db := openStore(t, path)
		eval := func(ctx context.Context, k tuner.Knobs) (tuner.Result, error) {
			if evaluated[i].Add(1) == 1 {
				arrived.Done()
			}
			select {
			case <-all:
			case <-ctx.Done():
				return tuner.Result{}, ctx.Err()
			case <-time.After(time.Minute):
				return tuner.Result{}, errors.New("the other runs never claimed a trial")
			}
			return fixtureEval(ctx, k)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = tuner.Run(context.Background(), db, plan, tuner.WithEvaluator(eval),
				tuner.WithHeartbeat(20*time.Millisecond, 5*time.Second))
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	_, ts := allTrials(t, first, tuner.DefaultStudyName)
	counted := 0 // every trial but those failed as not needed, which have no knobs
	for i, tr := range ts {
		if tr.Number != i || !tr.State.Finished() || tr.RetryOf >= 0 || strings.Contains(tr.Error, "heartbeat") {
			t.Fatalf("trial %d: %s", i, trialText(tr))
		}
		notNeeded := strings.Contains(tr.Error, "not needed")
		if notNeeded && (tr.State != studies.Fail || len(tr.Params) > 0) {
			t.Fatalf("trial %d: %s, a trial not needed must fail without knobs", i, trialText(tr))
		}
		if !notNeeded {
			counted++
		}
	}
	if counted != 30 || len(ts) > 32 {
		t.Fatalf("%d trials that count of %d, want 30 (of at most 32)", counted, len(ts))
	}
	for i := range evaluated {
		if evaluated[i].Load() == 0 {
			t.Fatalf("run %d evaluated no trial", i)
		}
	}
}

// TestRunSurplusTrialNotRun makes the race of the last claim happen: right before the
// run creates the study's last trial, another process (a second store handle) starts and
// completes it. The run's trial then comes one past the target; it must fail without
// knobs as not needed, evaluate nothing, and leave the study with exactly its trials.
func TestRunSurplusTrialNotRun(t *testing.T) {
	dir := t.TempDir()
	spec := modelSpec(t, dir)
	spec.Trials = 3
	spec.Workers = 1
	path := filepath.Join(dir, "s.db")
	db, other := openStore(t, path), openStore(t, path)
	ctx := context.Background()
	claims := 0
	var otherErr error
	defer tuner.SetBeforeStartTrial(func() {
		if claims++; claims != 3 {
			return
		}
		// The other process: the study's last trial, with trial 0's knobs and values.
		st, ts := allTrials(t, other, tuner.DefaultStudyName)
		tr, err := other.StartTrial(ctx, st.ID, "other")
		if err == nil {
			err = other.SetParams(ctx, tr.ID, ts[0].Params)
		}
		if err == nil {
			err = other.Complete(ctx, tr.ID, ts[0].Values, nil)
		}
		otherErr = err
	})()
	var evaluated atomic.Int64
	eval := func(ctx context.Context, k tuner.Knobs) (tuner.Result, error) {
		evaluated.Add(1)
		return fixtureEval(ctx, k)
	}
	if _, err := tuner.Run(ctx, db, newPlan(t, spec), tuner.WithEvaluator(eval)); err != nil {
		t.Fatal(err)
	}
	if otherErr != nil {
		t.Fatal(otherErr)
	}
	_, ts := allTrials(t, db, tuner.DefaultStudyName)
	if len(ts) != 4 || claims < 3 || evaluated.Load() != 2 {
		t.Fatalf("%d trials, %d claims, %d evaluated; want 4 trials, 2 evaluated", len(ts), claims, evaluated.Load())
	}
	for i, tr := range ts[:3] {
		if tr.State != studies.Complete {
			t.Fatalf("trial %d: %s", i, trialText(tr))
		}
	}
	if tr := ts[3]; tr.State != studies.Fail || len(tr.Params) > 0 || !strings.Contains(tr.Error, "not needed") ||
		tr.Worker == "other" {
		t.Fatalf("trial 3: %s, want failed without knobs as not needed", trialText(tr))
	}
}

// TestRunConflictingSpec refuses to join a study of the same name with another spec,
// and changes nothing.
func TestRunConflictingSpec(t *testing.T) {
	dir := t.TempDir()
	spec := modelSpec(t, dir)
	spec.Trials = 3
	db := openStore(t, filepath.Join(dir, "s.db"))
	if _, err := tuner.Run(context.Background(), db, newPlan(t, spec), tuner.WithEvaluator(fixtureEval)); err != nil {
		t.Fatal(err)
	}
	other := spec
	r, _ := tuner.ParseRange("2,4")
	other.Space.NWBits = &r
	other.Sampler.Name = "random"
	other.Trials = 10
	_, err := tuner.Run(context.Background(), db, newPlan(t, other), tuner.WithEvaluator(fixtureEval))
	if !errors.Is(err, tuner.ErrStudyConflict) || !strings.Contains(err.Error(), "differs in sampler, space") {
		t.Fatalf("conflicting spec: %v", err)
	}
	st, ts := allTrials(t, db, tuner.DefaultStudyName)
	if len(ts) != 3 || st.UserAttrs[tuner.AttrTrials] != "3" {
		t.Fatalf("a refused run changed the study: %d trials, attrs %v", len(ts), st.UserAttrs)
	}
	// Trials, workers and timeout may differ: they say how a process runs the study.
	same := spec
	same.Trials, same.Workers, same.Timeout = 4, 2, tuner.Duration(time.Hour)
	if sum, err := tuner.Run(context.Background(), db, newPlan(t, same), tuner.WithEvaluator(fixtureEval)); err != nil || sum.Done != 4 {
		t.Fatalf("joining with other trials and workers: %+v, %v", sum, err)
	}
}

// TestRunReapsAbandonedTrials: a RUNNING trial of a dead process on this host is reaped
// at once, one of another host once its heartbeat is older than the stale time; their
// knobs run again and the study ends with its trials.
func TestRunReapsAbandonedTrials(t *testing.T) {
	dir := t.TempDir()
	spec := modelSpec(t, dir)
	spec.Trials = 3
	ctx := context.Background()
	path := filepath.Join(dir, "s.db")
	db := openStore(t, path)
	if _, err := tuner.Run(ctx, db, newPlan(t, spec), tuner.WithEvaluator(fixtureEval)); err != nil {
		t.Fatal(err)
	}
	st, ts := allTrials(t, db, tuner.DefaultStudyName)
	// A process that has exited: its pid names no process any more.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("cannot run true:", err)
	}
	host := strings.SplitN(ts[0].Worker, ":", 2)[0]
	deadWorker := host + ":" + strconv.Itoa(cmd.Process.Pid) + ":0"
	dead, err := db.StartTrial(ctx, st.ID, deadWorker)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SetParams(ctx, dead.ID, ts[0].Params); err != nil {
		t.Fatal(err)
	}
	// A worker on another host whose last heartbeat is a minute old.
	old := openStoreClock(t, path, time.Now().Add(-time.Minute))
	far, err := old.StartTrial(ctx, st.ID, "elsewhere:1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := old.SetParams(ctx, far.ID, ts[1].Params); err != nil {
		t.Fatal(err)
	}
	spec.Trials = 6
	sum, err := tuner.Run(ctx, db, newPlan(t, spec), tuner.WithEvaluator(fixtureEval), tuner.WithHeartbeat(10*time.Millisecond, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	_, ts = allTrials(t, db, tuner.DefaultStudyName)
	if sum.Done != 6 || sum.Complete != 6 || sum.Running != 0 {
		for _, tr := range ts {
			t.Log(trialText(tr), tr.RetryOf, tr.Worker)
		}
		t.Fatalf("summary: done %d complete %d running %d", sum.Done, sum.Complete, sum.Running)
	}
	retried := map[int]bool{}
	for _, tr := range ts {
		if tr.RetryOf >= 0 {
			retried[tr.RetryOf] = true
			if tr.State != studies.Complete || !reflect.DeepEqual(tr.Params, ts[tr.RetryOf].Params) {
				t.Fatalf("retry %s of %s", trialText(tr), trialText(ts[tr.RetryOf]))
			}
		}
	}
	for _, n := range []int{dead.Number, far.Number} {
		if ts[n].State != studies.Fail || !strings.Contains(ts[n].Error, "no heartbeat") || !retried[n] {
			t.Fatalf("abandoned trial not reaped and re-run: %s", trialText(ts[n]))
		}
	}
}

func openStoreClock(tb testing.TB, path string, at time.Time) *studies.Store {
	tb.Helper()
	s, err := studies.Open(context.Background(), path, studies.WithClock(func() time.Time { return at }))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// TestRunGridCoversTheGrid: grid search visits every point of a small grid once, and a
// study asking for more trials stops at the grid's size.
func TestRunGridCoversTheGrid(t *testing.T) {
	dir := t.TempDir()
	spec := modelSpec(t, dir)
	spec.Sampler.Name = "grid"
	spec.Trials = 50
	for name, text := range map[string]string{"w": "2,4", "a": "3,4", "p": "0.1", "r": "off", "e": "1e-3"} {
		r, err := tuner.ParseRange(text)
		if err != nil {
			t.Fatal(err)
		}
		switch name {
		case "w":
			spec.Space.NWBits = &r
		case "a":
			spec.Space.NABits = &r
		case "p":
			spec.Space.Pruning = &r
		case "r":
			spec.Space.RoundingThresholdBits = &r
		case "e":
			spec.Space.PError = &r
		}
	}
	plan := newPlan(t, spec)
	if plan.GridSize() != 6 || plan.Spec().Trials != 6 {
		t.Fatalf("grid size %d, trials %d", plan.GridSize(), plan.Spec().Trials)
	}
	db := openStore(t, filepath.Join(dir, "s.db"))
	if _, err := tuner.Run(context.Background(), db, plan, tuner.WithEvaluator(fixtureEval)); err != nil {
		t.Fatal(err)
	}
	_, ts := allTrials(t, db, tuner.DefaultStudyName)
	seen := map[[2]float64]bool{}
	for _, tr := range ts {
		k := tuner.KnobValues(tr.Params)
		seen[[2]float64{k["n_w_bits"], k["n_a_bits"]}] = true
		if _, ok := k["rounding_threshold_bits"]; ok || k["pruning"] != 0.1 || k["p_error"] != 1e-3 {
			t.Fatalf("fixed knobs of %s", trialText(tr))
		}
	}
	if len(ts) != 6 || len(seen) != 6 {
		t.Fatalf("%d trials over %d grid points", len(ts), len(seen))
	}
}

// TestRunTPEConstrained runs TPE on latency under an accuracy-drop constraint: the
// constraint values are stored with each trial, and TPE finds feasible fast trials.
func TestRunTPEConstrained(t *testing.T) {
	dir := t.TempDir()
	spec := modelSpec(t, dir)
	spec.Sampler.Name = "tpe"
	spec.Trials = 30
	drop := 0.1
	spec.Constraint.MaxAccuracyDrop = &drop
	plan := newPlan(t, spec)
	if plan.Spec().Sampler.Objective != "latency_ms" {
		t.Fatalf("tpe objective %q", plan.Spec().Sampler.Objective)
	}
	db := openStore(t, filepath.Join(dir, "s.db"))
	sum, err := tuner.Run(context.Background(), db, plan, tuner.WithEvaluator(fixtureEval))
	if err != nil {
		t.Fatal(err)
	}
	_, ts := allTrials(t, db, tuner.DefaultStudyName)
	feasible := 0
	for _, tr := range ts {
		if tr.State != studies.Complete {
			continue
		}
		var a struct {
			Constraints []float64 `json:"constraints"`
		}
		if err := json.Unmarshal(tr.Attrs, &a); err != nil || len(a.Constraints) != 1 {
			t.Fatalf("constraints of %s: %s", trialText(tr), tr.Attrs)
		}
		want := (sum.FloatAccuracy - tr.Values[0]) - drop
		if d := a.Constraints[0] - want; d > 1e-12 || d < -1e-12 {
			t.Fatalf("constraint %v, want %v", a.Constraints[0], want)
		}
		if a.Constraints[0] <= 0 {
			feasible++
		}
	}
	if feasible < 5 {
		t.Fatalf("only %d feasible trials of 30", feasible)
	}
}
