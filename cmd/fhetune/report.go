package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fhetune/fhetune/report"
	"github.com/fhetune/fhetune/search/pareto"
	"github.com/fhetune/fhetune/studies"
	"github.com/fhetune/fhetune/tuner"
)

// reportDoc is what `fhetune report --json` prints: the report folder and the files
// written into it (paths as the folder was given).
type reportDoc struct {
	Out   string   `json:"out"`
	Files []string `json:"files"`
}

// reportFormats are the plot formats --format takes.
var reportFormats = []string{"png", "svg"}

func newReportCmd(a *app) *cobra.Command {
	var (
		out, formats string
		compare      []string
		asJSON       bool
	)
	c := &cobra.Command{
		Use:   "report NAME [--out DIR] [--format png,svg] [--compare OTHER,...] [--json]",
		Short: "Plot a study: Pareto front, progress, knob effects, per-layer time, and an HTML page",
		Long: `report reads a study from the database and writes, into DIR (default NAME-report):

  pareto.png/svg   accuracy against latency (log scale): every complete trial, the Pareto
                   front as a step line, the float model's accuracy, and the trials that
                   "study best" picks, labelled
  history.png/svg  hypervolume and best accuracy after each trial
  knobs.png/svg    each searched knob against latency and against accuracy
  layers.png/svg   where the first pick's time goes, layer by layer (KS+PBS vs levelled)
  index.html       the plots inline with the picks and the front as tables; it reads
                   offline (no scripts, fonts or links to fetch)

The labelled picks are the study's rule (its max_accuracy_drop or max_latency_ms, else
the fastest trial within 1% of float accuracy), the fastest within 5%, the most accurate
and the fastest trial. The front is the front of accuracy against latency_ms, which is
the study's own front unless it optimized other objectives. A study without complete
trials gets an index.html that says so. Files of an earlier report in DIR are replaced;
other files there are left alone.

--compare OTHER[,OTHER...] (or the flag repeated) draws the stored Pareto front of each
other study of the same database on the Pareto plot, as a dashed step line under the
study's own points, and lists it in index.html's summary with its front size and best
accuracy: for example a study searched with post-training quantization only against
one whose space has quantization-aware training. Each must optimize exactly accuracy
and latency_ms, in the directions of NAME's plot.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			fs, err := parseReportFormats(formats)
			if err != nil {
				return err
			}
			others, err := parseReportCompare(compare, name)
			if err != nil {
				return err
			}
			dir := out
			if !cmd.Flags().Changed("out") {
				dir = name + "-report"
			}
			if dir == "" {
				return badInput("--out is empty: give the report's folder")
			}
			ctx := cmd.Context()
			store, err := a.openStore(ctx, true)
			if err != nil {
				return err
			}
			defer store.Close()
			st, err := store.Study(ctx, name)
			if err != nil {
				return storeError(err)
			}
			trials, err := store.Trials(ctx, st.ID, studies.TrialFilter{})
			if err != nil {
				return fmt.Errorf("study %q: %w", st.Name, err)
			}
			rs, err := reportStudy(st, trials)
			if err != nil {
				return err
			}
			if rs.Compare, err = compareFronts(ctx, store, a.dbName(), st.Name, rs.Objectives, others); err != nil {
				return err
			}
			files, err := report.Render(rs, report.Options{Formats: fs})
			if err != nil {
				return fmt.Errorf("study %q: %w", st.Name, err)
			}
			if err := report.WriteFiles(dir, files); err != nil {
				if errors.Is(err, report.ErrOutputDir) {
					return badInput("--out: %w", err)
				}
				return err
			}
			doc := reportDoc{Out: dir, Files: make([]string, len(files))}
			for i, f := range files {
				doc.Files[i] = filepath.Join(dir, f.Name)
			}
			if asJSON {
				return writeJSON(a.stdout, doc)
			}
			for _, f := range doc.Files {
				if _, err := fmt.Fprintln(a.stdout, f); err != nil {
					return err
				}
			}
			return nil
		},
	}
	fl := c.Flags()
	fl.StringVar(&out, "out", "", "report folder (default NAME-report); created if needed")
	fl.StringVar(&formats, "format", strings.Join(reportFormats, ","), "plot file formats, comma-separated: png, svg")
	fl.StringSliceVar(&compare, "compare", nil, "other studies whose Pareto fronts to draw on the Pareto plot: comma-separated names, or the flag repeated")
	fl.BoolVar(&asJSON, "json", false, `print one JSON document: {"out": DIR, "files": [...]}`)
	return c
}

// parseReportFormats reads --format: png, svg or both, comma-separated.
func parseReportFormats(s string) ([]string, error) {
	var fs []string
	for _, f := range strings.Split(s, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		if !slices.Contains(reportFormats, f) {
			return nil, badInput("--format %q: unknown format %q (want png, svg or png,svg)", s, f)
		}
		if !slices.Contains(fs, f) {
			fs = append(fs, f)
		}
	}
	return fs, nil
}

// parseReportCompare reads --compare: study names, each once, none empty and none the
// reported study's.
func parseReportCompare(names []string, reported string) ([]string, error) {
	var out []string
	for _, n := range names {
		n = strings.TrimSpace(n)
		switch {
		case n == "":
			return nil, badInput("report: --compare: empty study name")
		case n == reported:
			return nil, badInput("report: --compare: %q is the study being reported; compare it with another study", n)
		case slices.Contains(out, n):
			return nil, badInput("report: --compare: study %q given twice", n)
		}
		out = append(out, n)
	}
	return out, nil
}

// frontStore is what compareFronts reads from the study store.
type frontStore interface {
	Study(ctx context.Context, name string) (studies.Study, error)
	ParetoFront(ctx context.Context, studyID int64) ([]studies.Trial, error)
}

// compareFronts loads the stored Pareto front of each named study, in order, for the
// report of study reported, whose plot has the objectives objs. Each study must exist in
// db and optimize exactly accuracy and latency_ms in the directions of objs (so that
// its stored front is a front of the same plane); otherwise the error is bad input
// naming it.
func compareFronts(ctx context.Context, store frontStore, db, reported string, objs []report.Objective, names []string) ([]report.Front, error) {
	var want []string
	for _, o := range objs {
		want = append(want, o.Direction+" "+o.Name)
	}
	var fronts []report.Front
	for _, name := range names {
		st, err := store.Study(ctx, name)
		if errors.Is(err, studies.ErrNoStudy) {
			return nil, badInput("report: --compare: no study %q in %s", name, db)
		}
		if err != nil {
			return nil, storeError(fmt.Errorf("report: --compare %q: %w", name, err))
		}
		ok := len(st.Objectives) == len(objs)
		for _, o := range objs {
			j := st.Objective(o.Name)
			ok = ok && j >= 0 && string(st.Objectives[j].Direction) == o.Direction
		}
		if !ok {
			var has []string
			for _, o := range st.Objectives {
				has = append(has, string(o.Direction)+" "+o.Name)
			}
			return nil, badInput("report: --compare: study %q has objectives %s; a comparison with %q needs exactly %s",
				name, strings.Join(has, ", "), reported, strings.Join(want, ", "))
		}
		front, err := store.ParetoFront(ctx, st.ID)
		if err != nil {
			return nil, fmt.Errorf("report: --compare %q: %w", name, err)
		}
		ia, il := st.Objective(report.ObjectiveAccuracy), st.Objective(report.ObjectiveLatency)
		f := report.Front{Name: st.Name, Points: make([]report.FrontPoint, 0, len(front))}
		for _, t := range front {
			if len(t.Values) != len(st.Objectives) {
				return nil, fmt.Errorf("report: --compare %q: front trial %d has %d values for %d objectives",
					name, t.Number, len(t.Values), len(st.Objectives))
			}
			f.Points = append(f.Points, report.FrontPoint{Trial: t.Number, Accuracy: t.Values[ia], LatencyMs: t.Values[il]})
		}
		slices.SortFunc(f.Points, func(a, b report.FrontPoint) int { return cmp.Compare(a.Trial, b.Trial) })
		fronts = append(fronts, f)
	}
	return fronts, nil
}

// planeObjectives are the two objectives every report plots.
var planeObjectives = []studies.Objective{
	{Name: "accuracy", Direction: studies.Maximize},
	{Name: "latency_ms", Direction: studies.Minimize},
}

// reportStudy turns a stored study and its trials into the report's data. Accuracy and
// latency come from the trial's objective values, or else from the evaluation result
// stored with it (a study that optimized other objectives); per-layer data from that
// result. The front, the picks and the history are those of accuracy against
// latency_ms, the plane the report plots.
func reportStudy(st studies.Study, trials []studies.Trial) (report.Study, error) {
	spec, specErr := tuner.ResumeSpec(st)
	floatAcc, haveFloat := studyFloatAccuracy(st)
	rs := report.Study{Name: st.Name, Trials: make([]report.Trial, 0, len(trials))}
	if haveFloat && floatAcc > 0 && floatAcc <= 1 {
		rs.FloatAccuracy = floatAcc
	} else {
		haveFloat = false
	}
	if specErr == nil {
		rs.Knobs = tuner.SearchedKnobs(spec)
	}
	for _, k := range tuner.KnobNames() {
		if labels := tuner.KnobChoices(k); labels != nil {
			if rs.KnobLabels == nil {
				rs.KnobLabels = map[string][]string{}
			}
			rs.KnobLabels[k] = labels
		}
	}
	objs := slices.Clone(planeObjectives)
	for i := range objs {
		if j := st.Objective(objs[i].Name); j >= 0 {
			objs[i].Direction = st.Objectives[j].Direction
		}
		rs.Objectives = append(rs.Objectives, report.Objective{Name: objs[i].Name, Direction: string(objs[i].Direction)})
	}

	trials = slices.Clone(trials)
	slices.SortFunc(trials, func(a, b studies.Trial) int { return cmp.Compare(a.Number, b.Number) })
	// plane holds each trial with its accuracy and latency as values: what tuner's pick
	// rules and hypervolume read.
	plane := make([]studies.Trial, len(trials))
	var points [][]float64
	var pointAt []int // index into rs.Trials of each point
	for i, t := range trials {
		rt := report.Trial{Number: t.Number, State: t.State.String(), Knobs: tuner.KnobValues(t.Params)}
		plane[i] = studies.Trial{Number: t.Number, State: t.State}
		if t.State == studies.Complete {
			res, haveRes, err := tuner.TrialResult(t)
			if err != nil {
				return report.Study{}, fmt.Errorf("study %q: %w", st.Name, err)
			}
			acc, okAcc := objectiveOrResult(st, t, "accuracy", res.Accuracy, haveRes)
			lat, okLat := objectiveOrResult(st, t, "latency_ms", res.LatencyMS, haveRes)
			if !okAcc || !okLat {
				return report.Study{}, fmt.Errorf("study %q: trial %d has no accuracy or latency_ms value to plot", st.Name, t.Number)
			}
			rt.Accuracy, rt.LatencyMs = acc, lat
			plane[i].Values = []float64{acc, lat}
			if haveRes {
				rt.PBSCount, rt.MaxTLUBits = res.PBSCount, res.MaxTLUBits
				rt.Layers = reportLayers(res.Layers)
			}
			if vf, ok := tuner.Verified(t); ok && vf.LatencyMSMeasured > 0 {
				rt.Verified = &report.Verification{Samples: vf.Samples, Accuracy: vf.EncryptedAccuracy, LatencyMs: vf.LatencyMSMeasured}
			}
			points = append(points, plane[i].Values)
			pointAt = append(pointAt, len(rs.Trials))
		}
		if pe, ok, err := tuner.TrialPruning(t); err != nil {
			return report.Study{}, fmt.Errorf("study %q: %w", st.Name, err)
		} else if ok {
			rt.Pruned = &report.Pruning{Epoch: pe.Epoch, ValAccuracy: pe.ValAccuracy, Threshold: pe.Threshold, Rule: pe.Rule,
				Comparable: pe.Comparable, AsTrial: pe.Trial}
		}
		rs.Trials = append(rs.Trials, rt)
	}
	if len(points) == 0 {
		return rs, nil
	}

	dirs := []pareto.Direction{pareto.Maximize, pareto.Minimize}
	for i, o := range objs {
		if o.Direction == studies.Maximize {
			dirs[i] = pareto.Maximize
		} else {
			dirs[i] = pareto.Minimize
		}
	}
	for _, k := range pareto.Front(points, dirs) {
		rs.Trials[pointAt[k]].OnFront = true
	}

	// The pick rules read accuracy as maximized and latency as minimized.
	if objs[0].Direction == studies.Maximize && objs[1].Direction == studies.Minimize {
		rs.Picks = reportPicks(spec, specErr == nil, plane, floatAcc, haveFloat)
	}
	rs.History = reportHistory(plane, objs)
	return rs, nil
}

// objectiveOrResult returns a complete trial's value of an objective: its stored value
// when the study optimized it, else the value from its evaluation result.
func objectiveOrResult(st studies.Study, t studies.Trial, name string, fromResult float64, haveResult bool) (float64, bool) {
	if j := st.Objective(name); j >= 0 && j < len(t.Values) {
		return t.Values[j], true
	}
	return fromResult, haveResult
}

// reportLayers converts a trial's per-layer results.
func reportLayers(ls []tuner.LayerResult) []report.Layer {
	out := make([]report.Layer, len(ls))
	for i, l := range ls {
		out[i] = report.Layer{Name: l.Name, TLUCount: l.TLUCount, TLUBits: l.TLUBits,
			PBSMs: l.PBSMS, LayerMs: l.LayerMS, BootstrapMs: l.BootstrapMS}
		if l.Params != nil {
			out[i].Crypto = l.Params.String()
		}
	}
	return out
}

// reportPicks returns the trials the report labels: those of tuner.DefaultPicks (the
// study's rule, within 5% of float, the most accurate), then the fastest trial. Without
// a float accuracy, only rules that do not measure a drop from it apply.
func reportPicks(spec tuner.Spec, haveSpec bool, plane []studies.Trial, floatAcc float64, haveFloat bool) []report.Pick {
	var picks []report.Pick
	if haveFloat {
		for _, p := range tuner.DefaultPicks(spec, plane, planeObjectives, floatAcc) {
			picks = append(picks, report.Pick{Label: p.Label, Trial: p.Trial.Number})
		}
	} else {
		var rules []tuner.Rule
		if haveSpec && spec.Constraint.MaxLatencyMS != nil {
			rules = append(rules, tuner.Rule{MaxLatencyMS: spec.Constraint.MaxLatencyMS})
		}
		for _, r := range append(rules, tuner.Rule{}) {
			if t, err := tuner.Best(plane, planeObjectives, 0, r); err == nil {
				picks = append(picks, report.Pick{Label: r.String(), Trial: t.Number})
			}
		}
	}
	// The fastest trial, the more accurate of equally fast ones.
	fastest := -1
	var fl, fa float64
	for _, t := range plane {
		if t.State != studies.Complete || len(t.Values) != 2 {
			continue
		}
		a, l := t.Values[0], t.Values[1]
		if fastest < 0 || l < fl || (l == fl && a > fa) {
			fastest, fl, fa = t.Number, l, a
		}
	}
	if fastest >= 0 {
		picks = append(picks, report.Pick{Label: "fastest trial", Trial: fastest})
	}
	return picks
}

// reportHistory returns one point per finished trial from the first complete one on:
// the hypervolume of accuracy against latency so far and the best accuracy so far.
func reportHistory(plane []studies.Trial, objs []studies.Objective) []report.HistoryPoint {
	var done []studies.Trial
	for _, t := range plane {
		if t.State.Finished() {
			done = append(done, t)
		}
	}
	hv := tuner.HypervolumeHistory(done, objs)
	maxAcc := objs[0].Direction == studies.Maximize
	var hist []report.HistoryPoint
	var best float64
	seen := false
	for i, t := range done {
		if t.State == studies.Complete && len(t.Values) == 2 {
			if a := t.Values[0]; !seen || (maxAcc && a > best) || (!maxAcc && a < best) {
				best = a
			}
			seen = true
		}
		if seen {
			hist = append(hist, report.HistoryPoint{Trial: t.Number, Hypervolume: hv[i], BestAccuracy: best})
		}
	}
	return hist
}
