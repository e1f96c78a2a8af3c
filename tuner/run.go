package tuner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fhetune/fhetune/search"
	"github.com/fhetune/fhetune/search/pareto"
	"github.com/fhetune/fhetune/studies"
)

// interruptedPrefix opens the error of a trial that Run interrupted (its context was
// cancelled) and whose parameters it enqueued again; such a trial does not count
// towards the study's trials.
const interruptedPrefix = "tuner: interrupted"

// Summary is what Run did and where the study stands.
type Summary struct {
	// Study is the study as stored (with its spec and attributes).
	Study studies.Study
	// Target is the number of trials the study ends with; Done the trials finished so far
	// (complete, failed or pruned), Complete, Failed and Pruned those in each state,
	// Running the trials other processes are still running.
	Target, Done, Complete, Failed, Pruned, Running int
	// Ran counts the trials this call finished.
	Ran int
	// Trainings counts the quantization-aware trainings this call's trials started (not
	// the networks they found trained), PrunedTrainings those of them the study's
	// pruner stopped: the trainings a pruner saves show as trials pruned without one.
	Trainings, PrunedTrainings int
	// Interrupted is set when Run stopped before the target because its context was
	// cancelled or the WithStop channel closed; TimedOut when the spec's timeout ran out.
	Interrupted, TimedOut bool
	// Front is the study's Pareto front, by trial number.
	Front []studies.Trial
	// FloatAccuracy is the base model's test accuracy.
	FloatAccuracy float64
	// Elapsed is Run's wall time. EvalTime sums the time this call's trials spent in the
	// objective and TrialTime their whole time from claiming a trial to storing its result;
	// 1 − EvalTime/TrialTime is the driver's overhead.
	Elapsed, EvalTime, TrialTime time.Duration
}

// Overhead returns the share of the trials' time spent outside the objective (0 when no
// trial ran).
func (s Summary) Overhead() float64 {
	if s.TrialTime <= 0 {
		return 0
	}
	return 1 - float64(s.EvalTime)/float64(s.TrialTime)
}

// trialAttrs is the JSON stored with a complete trial: the evaluation's result, the
// constraint values the samplers read, and the objective's time.
type trialAttrs struct {
	Result
	Constraints []float64 `json:"constraints,omitempty"`
	EvalMS      float64   `json:"eval_ms"`
	// Network is the number of the study's first trial of the trained network this
	// trial shares (its own number for the first; see sweep.go).
	Network int `json:"network"`
}

// Run runs the study of plan p in db until it has the spec's number of trials, the
// spec's timeout passes, the WithStop channel closes or ctx is cancelled. It creates the
// study (storing the resolved spec and its objectives) or joins an existing one of the
// same name and spec: trial numbers come from the store, so any number of processes may
// run the same study at once. The base model is trained once (or read from the spec's
// model file) and kept as a study artifact, as is the calibration profile; every later
// run reuses both.
//
// Workers (the spec's count) run as goroutines joined before Run returns. Each takes a
// trial (a WAITING one first, such as the re-run of an abandoned trial), samples its
// knobs from the study's history unless it already has them, evaluates them while
// recording heartbeats, and stores the values, the constraint values and the result's
// attributes, or the error of a trial that failed; the study goes on after a failure.
// Trials are deterministic, so a sampled setting that an earlier trial already has is
// changed (see dedupe) rather than evaluated again.
// RUNNING trials of dead processes on this host, and those without a heartbeat for the
// WithHeartbeat time, are reaped and their knobs run again.
//
// Cancelling ctx stops sampling and interrupts running trials: a trial that still
// completes is stored, the others are failed and their knobs enqueued again, so the
// study resumes where it stopped. Run then returns the Summary with Interrupted set and
// a nil error: only a study that cannot run (a conflicting spec, a store failure, a
// sampler failure) is an error. With one worker and the same spec (seed included), a
// study gives the same trials and values on every run.
func Run(ctx context.Context, db *studies.Store, p *Plan, opts ...Option) (Summary, error) {
	cfg := defaultRunConfig()
	for _, o := range opts {
		o(&cfg)
	}
	began := time.Now()
	st, spec, err := p.joinStudy(ctx, db)
	if err != nil {
		return Summary{}, err
	}
	sampler := p.sampler
	if spec.Sampler != p.spec.Sampler {
		if sampler, _, err = newSampler(spec, p.space); err != nil {
			return Summary{}, err
		}
	}
	cfg.log.Info("study", "name", st.Name, "id", st.ID, "trials", spec.Trials, "sampler", spec.Sampler.Name)
	base, err := p.baseModel(ctx, db, st)
	if err != nil {
		return Summary{}, err
	}
	floatAcc, err := base.Accuracy(p.task.Test.X, p.task.Test.Y)
	if err != nil {
		return Summary{}, fmt.Errorf("%w: base model on the test split: %w", ErrStudyData, err)
	}
	if fa := strconv.FormatFloat(floatAcc, 'g', -1, 64); st.UserAttrs[AttrFloatAccuracy] != fa {
		if err := db.SetStudyAttr(ctx, st.ID, AttrFloatAccuracy, fa); err != nil {
			return Summary{}, fmt.Errorf("tuner: %w", err)
		}
	}
	eval := cfg.eval
	if eval == nil {
		pr, src, err := profile(ctx, db, st)
		if err != nil {
			return Summary{}, err
		}
		env, err := NewProfileEnv(pr, src, specEnvOptions(spec.FHE)...)
		if err != nil {
			return Summary{}, err
		}
		task := p.task
		task.Base, task.Artifacts = base, studyArtifacts{db, st.ID}
		eval = func(ctx context.Context, k Knobs) (Result, error) {
			t := task
			t.OnQATEpoch = QATEpochFunc(ctx)
			return Evaluate(ctx, env, t, k)
		}
	}
	if st, err = db.StudyByID(ctx, st.ID); err != nil {
		return Summary{}, fmt.Errorf("tuner: %w", err)
	}
	host, _ := os.Hostname()
	r := &runner{db: db, p: p, spec: spec, sampler: sampler, ctxDone: ctx.Done(), st: st, cfg: cfg, eval: eval,
		floatAcc: floatAcc, target: spec.Trials,
		host: host, pid: os.Getpid(), began: began, halt: make(chan struct{}),
		recs: map[int]*trialRec{}, mine: map[int64]bool{}, keys: map[string]bool{}}
	r.dirs = spec.directions()
	for _, o := range spec.Objectives {
		r.names = append(r.names, o.Name)
	}
	return r.run(ctx)
}

// joinStudy creates the plan's study or returns the existing one after checking that it
// has the same spec and data, with the spec to run it with: the plan's, except that an
// NSGA-II population the plan left to its default (which depends on the number of
// trials) is the stored study's. It records the number of trials asked for.
func (p *Plan) joinStudy(ctx context.Context, db *studies.Store) (studies.Study, Spec, error) {
	spec := p.spec
	specJSON, err := spec.JSON()
	if err != nil {
		return studies.Study{}, spec, fmt.Errorf("tuner: encode spec: %w", err)
	}
	st, err := db.Study(ctx, spec.Name)
	if errors.Is(err, studies.ErrNoStudy) {
		st, err = db.CreateStudy(ctx, studies.NewStudy{Name: spec.Name, Spec: specJSON,
			Objectives: spec.studyObjectives(),
			UserAttrs:  map[string]string{AttrDataset: p.dataHash, AttrTrials: strconv.Itoa(spec.Trials)}})
		if err == nil {
			return st, spec, nil
		}
		if errors.Is(err, studies.ErrStudyExists) { // another process created it first
			st, err = db.Study(ctx, spec.Name)
		}
	}
	if err != nil {
		return studies.Study{}, spec, fmt.Errorf("tuner: %w", err)
	}
	stored, err := SpecFromJSON(st.Spec)
	if err != nil {
		return studies.Study{}, spec, fmt.Errorf("%w: study %q has a spec this version cannot read: %w", ErrStudyConflict, st.Name, err)
	}
	if spec.autoPopulation && stored.Sampler.Name == spec.Sampler.Name {
		spec.Sampler.Population = stored.Sampler.Population
	}
	if diff := specDiff(stored, spec); len(diff) > 0 {
		return studies.Study{}, spec, fmt.Errorf("%w: study %q differs in %s", ErrStudyConflict, st.Name, strings.Join(diff, ", "))
	}
	if h := st.UserAttrs[AttrDataset]; h != "" && h != p.dataHash {
		return studies.Study{}, spec, fmt.Errorf("%w: data set %q changed since study %q began", ErrStudyData, spec.Dataset, st.Name)
	}
	if want := strconv.Itoa(spec.Trials); st.UserAttrs[AttrTrials] != want {
		if err := db.SetStudyAttr(ctx, st.ID, AttrTrials, want); err != nil {
			return studies.Study{}, spec, fmt.Errorf("tuner: %w", err)
		}
	}
	return st, spec, nil
}

// specDiff returns the top-level spec fields in which two resolved specs describe
// different studies (trials, timeout and workers do not count).
func specDiff(a, b Spec) []string {
	ja, err1 := a.identity()
	jb, err2 := b.identity()
	if err1 != nil || err2 != nil {
		return []string{"spec"}
	}
	if bytes.Equal(ja, jb) {
		return nil
	}
	var ma, mb map[string]json.RawMessage
	if json.Unmarshal(ja, &ma) != nil || json.Unmarshal(jb, &mb) != nil {
		return []string{"spec"}
	}
	var diff []string
	for k, v := range ma {
		if !bytes.Equal(v, mb[k]) {
			diff = append(diff, k)
		}
	}
	for k := range mb {
		if _, ok := ma[k]; !ok {
			diff = append(diff, k)
		}
	}
	sort.Strings(diff)
	return diff
}

// ResumeSpec returns the spec a stored study runs with: its resolved spec, with the
// number of trials last asked for (the AttrTrials attribute).
func ResumeSpec(st studies.Study) (Spec, error) {
	s, err := SpecFromJSON(st.Spec)
	if err != nil {
		return Spec{}, fmt.Errorf("study %q: %w", st.Name, err)
	}
	if n, err := strconv.Atoi(st.UserAttrs[AttrTrials]); err == nil && n > 0 {
		s.Trials = n
	}
	return s, nil
}

// trialRec is what the runner knows of one stored trial.
type trialRec struct {
	id          int64
	number      int
	state       studies.State
	hasParams   bool
	retryOf     int
	interrupted bool
	worker      string
	heartbeat   time.Time
	values      []float64
	constraints []float64
	internal    map[string]float64 // search-space values of a usable complete or failed trial
	usable      bool
	key         string // the knob values, to spot repeats
	network     string // the training knobs (networkKey)
}

// claimed is a trial a worker took.
type claimed struct {
	id      int64
	number  int
	retryOf int
	// sampled is set when the knobs were sampled for this trial and still have to be
	// stored (a re-run trial has its knobs already).
	sampled bool
	params  []studies.Param
	began   time.Time
	network int // see trialAttrs.Network
}

type runner struct {
	db       *studies.Store
	p        *Plan
	spec     Spec           // the plan's spec, as joined (see joinStudy)
	sampler  search.Sampler // built for spec
	ctxDone  <-chan struct{}
	st       studies.Study
	cfg      runConfig
	eval     EvalFunc
	floatAcc float64
	target   int
	host     string
	pid      int
	dirs     []search.Direction
	names    []string
	began    time.Time

	halt     chan struct{} // closed when no new trial may start
	haltOnce sync.Once

	progressMu sync.Mutex // serializes progress reports

	mu        sync.Mutex // protects the fields below; held while claiming a trial
	recs      map[int]*trialRec
	low       int             // every trial below this number is known and finished
	mine      map[int64]bool  // ids of the trials this process is running
	keys      map[string]bool // knob settings of every known trial (see dedupe)
	ran       int
	evalTime  time.Duration
	trialTime time.Duration
	timedOut  bool
	fatal     error
	// trainings and prunedTrainings count this process's quantization-aware trainings
	// and those the pruner stopped (see Summary).
	trainings, prunedTrainings int
}

func (r *runner) run(ctx context.Context) (Summary, error) {
	var timer *time.Timer
	if t := time.Duration(r.spec.Timeout); t > 0 {
		timer = time.AfterFunc(t, func() {
			r.mu.Lock()
			r.timedOut = true
			r.mu.Unlock()
			r.stopAll()
		})
	}
	watchDone := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			r.stopAll()
		case <-r.cfg.stop:
			r.stopAll()
		case <-watchDone:
		}
	}()
	r.mu.Lock()
	err := r.sync(context.WithoutCancel(ctx))
	r.mu.Unlock()
	if err == nil {
		r.report(nil)
		var wg sync.WaitGroup
		for i := 0; i < r.spec.Workers; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := r.worker(ctx, i); err != nil {
					r.mu.Lock()
					if r.fatal == nil {
						r.fatal = err
					}
					r.mu.Unlock()
					r.stopAll()
				}
			}()
		}
		wg.Wait()
	}
	close(watchDone)
	if timer != nil {
		timer.Stop()
	}
	sum, serr := r.summary(context.WithoutCancel(ctx))
	switch {
	case err != nil:
		return sum, err
	case r.fatal != nil:
		return sum, r.fatal
	}
	return sum, serr
}

func (r *runner) stopAll() { r.haltOnce.Do(func() { close(r.halt) }) }

// halted reports whether no new trial may start. It looks at the stop channel itself
// (not only at halt, which a goroutine closes), so a stop that happened before a trial
// ended is seen before the next one starts.
func (r *runner) halted() bool {
	select {
	case <-r.halt:
		return true
	case <-r.cfg.stop:
		r.stopAll()
		return true
	case <-r.ctxDone:
		r.stopAll()
		return true
	default:
		return false
	}
}

func (r *runner) worker(ctx context.Context, i int) error {
	name := fmt.Sprintf("%s:%d:%d", r.host, r.pid, i)
	for {
		c, err := r.claim(ctx, name)
		if err != nil || c == nil {
			if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
				return nil
			}
			return err
		}
		if err := r.runTrial(ctx, c); err != nil {
			return err
		}
	}
}

// claim takes the next trial to run, or returns nil when the study has all its trials
// (after waiting for trials that other processes are running, or reaping them), or when
// the run is stopping.
func (r *runner) claim(ctx context.Context, worker string) (*claimed, error) {
	for {
		if r.halted() {
			return nil, nil
		}
		began := time.Now()
		r.mu.Lock()
		c, wait, err := r.claimLocked(ctx, worker, began)
		r.mu.Unlock()
		if err != nil || c != nil || !wait {
			return c, err
		}
		select {
		case <-r.halt:
			return nil, nil
		case <-time.After(r.cfg.heartbeat):
		}
	}
}

// claimLocked is one attempt of claim; wait says that trials of other processes are
// still running, so the caller should look again later.
func (r *runner) claimLocked(ctx context.Context, worker string, began time.Time) (*claimed, bool, error) {
	if err := r.sync(ctx); err != nil {
		return nil, false, err
	}
	if ctx.Err() != nil {
		return nil, false, nil
	}
	// The writes that claim a trial are not cut short by ctx, so a trial is never left
	// RUNNING without its knobs.
	wctx := context.WithoutCancel(ctx)
	reaped, err := r.reap(wctx)
	if err != nil {
		return nil, false, err
	}
	if reaped {
		if err := r.sync(wctx); err != nil {
			return nil, false, err
		}
	}
	cnt := r.counts()
	if cnt.waiting == 0 && cnt.counted >= r.target {
		return nil, cnt.runningOthers > 0, nil
	}
	if beforeStartTrial != nil {
		beforeStartTrial()
	}
	t, err := r.db.StartTrial(wctx, r.st.ID, worker)
	if err != nil {
		return nil, false, fmt.Errorf("tuner: %w", err)
	}
	if len(t.Params) == 0 && t.Number >= r.target {
		surplus, err := r.surplus(wctx, t)
		if err != nil || surplus {
			cnt := r.counts()
			return nil, cnt.waiting > 0 || cnt.runningOthers > 0, err
		}
	}
	c := &claimed{id: t.ID, number: t.Number, retryOf: t.RetryOf, params: t.Params, began: began}
	if len(t.Params) == 0 {
		n := t.Number
		if r.p.gridSize > 0 {
			n = r.slot(t.Number)
		}
		var vals map[string]float64
		if members, ok := r.openNetwork(); ok {
			vals = r.sweepSample(members, t.Number)
		} else {
			vals, err = r.sampler.Sample(r.p.space.space, r.dirs, r.history(), n)
		}
		if err != nil {
			err = fmt.Errorf("%w: trial %d: %w", ErrSampler, t.Number, err)
			if ferr := r.db.Fail(wctx, t.ID, err.Error()); ferr != nil {
				return nil, false, errors.Join(err, ferr)
			}
			return nil, false, err
		}
		vals = r.dedupe(vals, t.Number)
		c.params = r.p.space.params(vals)
		c.sampled = true
	}
	r.keys[paramsKey(c.params)] = true
	r.mine[t.ID] = true
	net := networkKey(c.params)
	c.network = r.networkOf(net, t.Number)
	r.recs[t.Number] = &trialRec{id: t.ID, number: t.Number, state: studies.Running, hasParams: true,
		retryOf: t.RetryOf, worker: worker, heartbeat: time.Now(), key: paramsKey(c.params), network: net}
	r.cfg.log.Debug("trial started", "number", t.Number, "worker", worker, "params", paramsText(c.params))
	return c, false, nil
}

// surplusPrefix opens the error of a trial that Run created but did not run because
// the study already had its trials (see [runner.surplus]); such a trial has no
// parameters, so it does not count towards the study's trials.
const surplusPrefix = "tuner: not needed"

// beforeStartTrial, when set (by tests only), runs right before claimLocked's
// StartTrial: where another process may start a trial unseen.
var beforeStartTrial func()

// surplus decides whether t, a trial this runner just created, is one more than the
// study needs, and if so fails it without parameters. Two processes that both counted
// one trial missing may both create one; the store numbers trials densely under its
// lock, so every trial numbered below t is in the store once t exists, and t is
// surplus when the trials below it that count already reach the target. The check reads
// the store again only for trials numbered at or past the target, the only ones that can
// be surplus.
func (r *runner) surplus(ctx context.Context, t studies.Trial) (bool, error) {
	if err := r.sync(ctx); err != nil {
		return false, err
	}
	if r.slot(t.Number) < r.target {
		return false, nil
	}
	msg := fmt.Sprintf("%s: the study had its %d trials when this one was numbered (another process started the last one first)",
		surplusPrefix, r.target)
	if err := r.db.Fail(ctx, t.ID, msg); err != nil {
		return false, fmt.Errorf("tuner: %w", err)
	}
	r.recs[t.Number] = &trialRec{id: t.ID, number: t.Number, state: studies.Fail, retryOf: t.RetryOf, worker: t.Worker}
	r.cfg.log.Debug("trial not needed", "number", t.Number, "target", r.target)
	return true, nil
}

// sync reads the trials that may have changed since the last call.
func (r *runner) sync(ctx context.Context) error {
	ts, err := r.db.Trials(ctx, r.st.ID, studies.TrialFilter{FromNumber: r.low})
	if err != nil {
		return fmt.Errorf("tuner: %w", err)
	}
	for _, t := range ts {
		if old, ok := r.recs[t.Number]; ok && old.state.Finished() {
			continue
		}
		rec := r.record(t)
		r.recs[t.Number] = rec
		if rec.key != "" {
			r.keys[rec.key] = true
		}
	}
	for {
		rec, ok := r.recs[r.low]
		if !ok || !rec.state.Finished() {
			break
		}
		r.low++
	}
	return nil
}

func (r *runner) record(t studies.Trial) *trialRec {
	rec := &trialRec{id: t.ID, number: t.Number, state: t.State, hasParams: len(t.Params) > 0, retryOf: t.RetryOf,
		interrupted: t.State == studies.Fail && strings.HasPrefix(t.Error, interruptedPrefix),
		worker:      t.Worker, heartbeat: t.Heartbeat, key: paramsKey(t.Params), network: networkKey(t.Params)}
	if t.State == studies.Complete && len(t.Values) == len(r.dirs) {
		rec.values = t.Values
		var a struct {
			Constraints []float64 `json:"constraints"`
		}
		if len(t.Attrs) > 0 {
			_ = json.Unmarshal(t.Attrs, &a) // attributes without constraints: feasible
		}
		rec.constraints = a.Constraints
		rec.internal, rec.usable = r.p.space.internal(t.Params)
	}
	if t.State == studies.Fail && !rec.interrupted {
		rec.internal, rec.usable = r.p.space.internal(t.Params)
	}
	return rec
}

// trialCounts summarizes the known trials.
type trialCounts struct {
	counted       int // trials that count towards the target
	done          int // of which finished
	complete      int
	failed        int
	pruned        int
	waiting       int
	running       int
	runningOthers int // running, not in this process
}

// superseded reports whether a failed trial does not count: it never got parameters, it
// was interrupted (its knobs were enqueued again), or it was reaped and re-run.
func superseded(rec *trialRec, retried map[int]bool) bool {
	return rec.state == studies.Fail && (!rec.hasParams || rec.interrupted || retried[rec.number])
}

func (r *runner) retried() map[int]bool {
	m := map[int]bool{}
	for _, rec := range r.recs {
		if rec.retryOf >= 0 {
			m[rec.retryOf] = true
		}
	}
	return m
}

func (r *runner) counts() trialCounts {
	retried := r.retried()
	var c trialCounts
	for _, rec := range r.recs {
		if superseded(rec, retried) {
			continue
		}
		c.counted++
		switch rec.state {
		case studies.Complete:
			c.complete++
			c.done++
		case studies.Fail:
			c.failed++
			c.done++
		case studies.Pruned:
			c.pruned++
			c.done++
		case studies.Waiting:
			c.waiting++
		case studies.Running:
			c.running++
			if !r.mine[rec.id] {
				c.runningOthers++
			}
		}
	}
	return c
}

// slot returns the position of trial number among the trials that count: grid search
// visits grid point slot(n), so that re-run trials leave no point out.
func (r *runner) slot(number int) int {
	retried := r.retried()
	n := 0
	for num, rec := range r.recs {
		if num < number && !superseded(rec, retried) {
			n++
		}
	}
	return n
}

// history returns the sampler's history, by number: the usable complete trials, and the
// failed ones (knobs only) that were neither interrupted nor re-run, so that a sampler can
// steer away from knobs whose evaluation fails (parego does).
func (r *runner) history() []search.Trial {
	var h []search.Trial
	retried := r.retried()
	for _, rec := range r.recs {
		switch {
		case rec.state == studies.Complete && rec.usable:
			h = append(h, search.Trial{Number: rec.number, State: search.Complete, Params: rec.internal,
				Values: rec.values, Constraints: rec.constraints})
		case rec.state == studies.Fail && rec.usable && !superseded(rec, retried):
			h = append(h, search.Trial{Number: rec.number, State: search.Fail, Params: rec.internal})
		}
	}
	sort.Slice(h, func(i, j int) bool { return h[i].Number < h[j].Number })
	return h
}

// reap fails abandoned RUNNING trials of other workers and enqueues their knobs again:
// those without a heartbeat for the stale time, and those of dead processes on this host
// once every live trial's heartbeat is newer than theirs (ReapStale goes by heartbeat
// age, so this keeps it from touching a live trial). It reports whether it reaped any.
func (r *runner) reap(ctx context.Context) (bool, error) {
	now := time.Now()
	const margin = 200 * time.Millisecond
	var (
		stale     bool
		deadNewst time.Time
		dead      []int
		live      []*trialRec
	)
	for _, rec := range r.recs {
		if rec.state != studies.Running {
			continue
		}
		switch {
		case r.mine[rec.id]:
			live = append(live, rec)
		case now.Sub(rec.heartbeat) >= r.cfg.staleAfter:
			stale = true
		case r.deadLocal(rec.worker):
			dead = append(dead, rec.number)
			if rec.heartbeat.After(deadNewst) {
				deadNewst = rec.heartbeat
			}
		default:
			live = append(live, rec)
		}
	}
	n := 0
	if stale {
		k, err := r.db.ReapStale(ctx, r.st.ID, r.cfg.staleAfter)
		if err != nil {
			return false, fmt.Errorf("tuner: %w", err)
		}
		n += k
	}
	if len(dead) > 0 && now.Sub(deadNewst) > margin {
		safe := true
		for _, l := range live {
			safe = safe && l.heartbeat.After(deadNewst.Add(margin))
		}
		if safe {
			k, err := r.db.ReapStale(ctx, r.st.ID, time.Since(deadNewst))
			if err != nil {
				return false, fmt.Errorf("tuner: %w", err)
			}
			n += k
		}
	}
	if n > 0 {
		sort.Ints(dead)
		r.cfg.log.Info("reaped abandoned trials", "count", n, "dead_process_trials", dead)
	}
	return n > 0, nil
}

// deadLocal reports whether a worker id ("host:pid:i") names a process of this host
// that no longer exists.
func (r *runner) deadLocal(worker string) bool {
	i := strings.LastIndexByte(worker, ':')
	if i < 0 {
		return false
	}
	j := strings.LastIndexByte(worker[:i], ':')
	if j < 0 || worker[:j] != r.host {
		return false
	}
	pid, err := strconv.Atoi(worker[j+1 : i])
	if err != nil || pid == r.pid {
		return false
	}
	return processGone(pid)
}

// runTrial evaluates a claimed trial and stores its outcome. A trial that trains
// quantization-aware is watched by the study's pruner (trialWatch) and stored as
// PRUNED when the pruner stops it.
func (r *runner) runTrial(ctx context.Context, c *claimed) error {
	knobs := KnobsOf(c.params, r.spec.FHE)
	wctx := context.WithoutCancel(ctx) // outcomes are stored even when interrupted
	evalCtx := ctx
	var watch *trialWatch
	if knobs.qat() {
		watch = r.newTrialWatch(c, knobs)
		evalCtx = withQATEpoch(ctx, watch.hook(ctx))
	}
	hbDone := make(chan struct{})
	hbExit := make(chan struct{})
	var paramsErr error
	go r.heartbeat(wctx, c, &paramsErr, hbDone, hbExit)
	t0 := time.Now()
	res, evalErr := r.eval(evalCtx, knobs)
	evalDur := time.Since(t0)
	close(hbDone)
	<-hbExit
	if paramsErr != nil {
		r.mu.Lock()
		delete(r.mine, c.id)
		r.mu.Unlock()
		if !errors.Is(paramsErr, studies.ErrTrialFinished) {
			return fmt.Errorf("tuner: store the knobs of trial %d: %w", c.number, paramsErr)
		}
		r.cfg.log.Warn("trial was reaped before its knobs were stored; it does not count", "number", c.number)
		return nil
	}

	rep := &TrialReport{Number: c.number, Knobs: KnobValues(c.params), EvalTime: evalDur}
	var storeErr error
	switch {
	case evalErr == nil:
		vals := r.spec.values(res)
		cons := r.spec.constraints(res, r.floatAcc)
		attrs, err := json.Marshal(trialAttrs{Result: res, Constraints: cons, EvalMS: float64(evalDur) / 1e6, Network: c.network})
		if err != nil {
			return fmt.Errorf("tuner: encode trial %d: %w", c.number, err)
		}
		if err := finiteValues(vals); err != nil {
			rep.State, rep.Err = studies.Fail, err.Error()
			storeErr = r.db.Fail(wctx, c.id, rep.Err)
			break
		}
		rep.State, rep.Values = studies.Complete, vals
		storeErr = r.db.Complete(wctx, c.id, vals, attrs)
		if storeErr == nil {
			r.mu.Lock()
			r.recs[c.number] = &trialRec{id: c.id, number: c.number, state: studies.Complete, hasParams: true,
				retryOf: c.retryOf, values: vals, constraints: cons, key: paramsKey(c.params), network: networkKey(c.params)}
			r.recs[c.number].internal, r.recs[c.number].usable = r.p.space.internal(c.params)
			r.mu.Unlock()
		}
	case ctx.Err() != nil:
		msg := interruptedPrefix
		nt, err := r.db.Enqueue(wctx, r.st.ID, c.params)
		if err == nil {
			msg += fmt.Sprintf("; parameters enqueued again as trial %d", nt.Number)
		}
		storeErr = errors.Join(err, r.db.Fail(wctx, c.id, msg))
		r.mu.Lock()
		delete(r.mine, c.id)
		r.mu.Unlock()
		r.cfg.log.Info("trial interrupted", "number", c.number, "requeued", err == nil)
		return storeErr
	case errors.Is(evalErr, ErrPruned):
		rep.State, rep.Err = studies.Pruned, evalErr.Error()
		storeErr = r.storePruned(wctx, c, knobs, evalErr, evalDur)
	default:
		rep.State, rep.Err = studies.Fail, evalErr.Error()
		storeErr = r.db.Fail(wctx, c.id, rep.Err)
	}
	if errors.Is(storeErr, studies.ErrTrialFinished) {
		// Another process reaped the trial (this one looked dead to it); its knobs run again.
		r.cfg.log.Warn("trial was reaped while it ran; its result is dropped", "number", c.number)
		storeErr = nil
		rep = nil
	}
	r.mu.Lock()
	delete(r.mine, c.id)
	if storeErr == nil && rep != nil {
		r.ran++
		r.evalTime += evalDur
		r.trialTime += time.Since(c.began)
		if rep.State == studies.Fail || rep.State == studies.Pruned {
			r.recs[c.number] = &trialRec{id: c.id, number: c.number, state: rep.State, hasParams: true,
				retryOf: c.retryOf, key: paramsKey(c.params), network: networkKey(c.params)}
			if rep.State == studies.Fail {
				r.recs[c.number].internal, r.recs[c.number].usable = r.p.space.internal(c.params)
			}
		}
		if rep.State == studies.Pruned && watch != nil && watch.stopped {
			r.prunedTrainings++
		}
	}
	r.mu.Unlock()
	if storeErr != nil {
		return fmt.Errorf("tuner: store trial %d: %w", c.number, storeErr)
	}
	if rep != nil {
		switch rep.State {
		case studies.Fail:
			r.cfg.log.Info("trial failed", "number", c.number, "error", rep.Err)
		case studies.Pruned:
			r.cfg.log.Info("trial pruned", "number", c.number, "reason", rep.Err)
		default:
			r.cfg.log.Debug("trial complete", "number", c.number, "values", rep.Values)
		}
		r.report(rep)
	}
	return nil
}

func finiteValues(vs []float64) error {
	for i, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("tuner: objective %d is %v", i, v)
		}
	}
	return nil
}

// heartbeat stores the knobs of a trial that sampled them, while the objective runs (so
// that the write costs a trial no time), then records the trial's heartbeat until done
// is closed, and closes exit. A crash before the knobs are stored leaves a RUNNING trial
// without knobs, which is reaped and does not count.
func (r *runner) heartbeat(ctx context.Context, c *claimed, paramsErr *error, done <-chan struct{}, exit chan<- struct{}) {
	defer close(exit)
	id := c.id
	if c.sampled {
		if *paramsErr = r.db.SetParams(ctx, id, c.params); *paramsErr != nil {
			return
		}
	}
	t := time.NewTicker(r.cfg.heartbeat)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			if err := r.db.Heartbeat(ctx, id); err != nil && !errors.Is(err, studies.ErrTrialFinished) {
				r.cfg.log.Warn("heartbeat", "trial_id", id, "error", err)
			}
		}
	}
}

// report sends a progress report (when asked for one).
func (r *runner) report(last *TrialReport) {
	if r.cfg.progress == nil {
		return
	}
	r.progressMu.Lock()
	defer r.progressMu.Unlock()
	r.mu.Lock()
	pr := r.progressLocked()
	r.mu.Unlock()
	pr.Last = last
	r.cfg.progress(pr)
}

func (r *runner) progressLocked() Progress {
	c := r.counts()
	pr := Progress{Study: r.st.Name, Done: c.done, Total: r.target, Complete: c.complete, Failed: c.failed,
		Pruned: c.pruned, Running: c.running, BestAccuracy: math.NaN(), Elapsed: time.Since(r.began)}
	if pr.Total < pr.Done {
		pr.Total = pr.Done
	}
	acc := slices.Index(r.names, "accuracy")
	var pts [][]float64
	for _, rec := range r.recs {
		if rec.state == studies.Complete && rec.values != nil {
			pts = append(pts, rec.values)
			if acc >= 0 && (math.IsNaN(pr.BestAccuracy) || rec.values[acc] > pr.BestAccuracy) {
				pr.BestAccuracy = rec.values[acc]
			}
		}
	}
	if len(pts) > 0 {
		pr.FrontSize = len(pareto.Front(pts, r.dirs))
		pr.Hypervolume = Hypervolume(pts, r.dirs, r.names)
	}
	if r.ran > 0 && pr.Done < pr.Total {
		per := pr.Elapsed / time.Duration(r.ran)
		pr.ETA = per * time.Duration(pr.Total-pr.Done)
	}
	return pr
}

// summary reads the study's final state.
func (r *runner) summary(ctx context.Context) (Summary, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sum := Summary{Study: r.st, Target: r.target, FloatAccuracy: r.floatAcc, Ran: r.ran,
		Elapsed: time.Since(r.began), EvalTime: r.evalTime, TrialTime: r.trialTime, TimedOut: r.timedOut}
	if err := r.sync(ctx); err != nil {
		return sum, err
	}
	c := r.counts()
	sum.Done, sum.Complete, sum.Failed, sum.Pruned, sum.Running = c.done, c.complete, c.failed, c.pruned, c.runningOthers
	sum.Trainings, sum.PrunedTrainings = r.trainings, r.prunedTrainings
	if sum.Done < sum.Target && !sum.TimedOut && r.fatal == nil {
		sum.Interrupted = true
	}
	front, err := r.db.ParetoFront(ctx, r.st.ID)
	if err != nil {
		return sum, fmt.Errorf("tuner: %w", err)
	}
	sum.Front = front
	if st, err := r.db.StudyByID(ctx, r.st.ID); err == nil {
		sum.Study = st
	}
	return sum, nil
}

// paramsText formats stored parameters for logs.
func paramsText(ps []studies.Param) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.Name + "=" + strconv.FormatFloat(p.Value, 'g', 4, 64)
	}
	return strings.Join(parts, " ")
}

// paramsKey identifies a setting of the knobs.
func paramsKey(ps []studies.Param) string {
	if len(ps) == 0 {
		return ""
	}
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.Name)
		b.WriteByte('=')
		b.WriteString(strconv.FormatFloat(p.Value, 'g', -1, 64))
		b.WriteByte(' ')
	}
	return b.String()
}

// dedupe replaces a sampled setting that an earlier trial already has, or whose network a
// pruner stopped (its training would be stopped again). Trials are deterministic, so a
// repeat would only spend the budget again: the setting is changed
// one knob at a time, each redrawn from its prior, until it is new (a fresh random
// setting after 16 tries). The random numbers come from the trial number, so a study
// stays reproducible.
func (r *runner) dedupe(vals map[string]float64, number int) map[string]float64 {
	pruned := map[string]bool{}
	for _, rec := range r.recs {
		if rec.state == studies.Pruned {
			pruned[rec.network] = true
		}
	}
	taken := func(vals map[string]float64) bool {
		ps := r.p.space.params(vals)
		return r.keys[paramsKey(ps)] || pruned[networkKey(ps)]
	}
	if !taken(vals) {
		return vals
	}
	rng := search.NewRand(r.spec.Seed^0x5eed_d0d0, number)
	ps := r.p.space.space.Params
	out := make(map[string]float64, len(vals))
	for k, v := range vals {
		out[k] = v
	}
	for try := 0; try < 64; try++ {
		if try >= 16 {
			for _, p := range ps {
				out[p.Name] = p.Uniform(rng)
			}
		} else {
			p := ps[rng.IntN(len(ps))]
			out[p.Name] = p.Uniform(rng)
		}
		if !taken(out) {
			break
		}
	}
	return out
}
