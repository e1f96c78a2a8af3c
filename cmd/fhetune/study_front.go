package main

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/fhetune/fhetune/studies"
	"github.com/fhetune/fhetune/tuner"
)

// frontRow is one trial of a printed Pareto front.
type frontRow struct {
	Trial  int                `json:"trial"`
	Values map[string]float64 `json:"values"`
	// Knobs holds the knob values; a rounding_threshold_bits of "off" and the
	// rounding_method ("exact", "approximate") are strings.
	Knobs map[string]any `json:"knobs"`
}

// studyOutcome is what `study start --json` and `study resume --json` print.
type studyOutcome struct {
	Study           string     `json:"study"`
	Target          int        `json:"target"`
	Done            int        `json:"done"`
	Complete        int        `json:"complete"`
	Failed          int        `json:"failed"`
	Pruned          int        `json:"pruned"`
	Ran             int        `json:"ran"`
	Interrupted     bool       `json:"interrupted"`
	TimedOut        bool       `json:"timed_out"`
	FloatAccuracy   float64    `json:"float_accuracy"`
	ElapsedS        float64    `json:"elapsed_s"`
	TrialsPerMinute float64    `json:"trials_per_minute"`
	Overhead        float64    `json:"overhead"`
	Front           []frontRow `json:"front"`
	ReportCommand   string     `json:"report_command"`
	ResumeCommand   string     `json:"resume_command,omitempty"`
}

func studyOutcomeDoc(a *app, s tuner.Summary) studyOutcome {
	d := studyOutcome{Study: s.Study.Name, Target: s.Target, Done: s.Done, Complete: s.Complete, Failed: s.Failed,
		Pruned: s.Pruned, Ran: s.Ran, Interrupted: s.Interrupted, TimedOut: s.TimedOut, FloatAccuracy: s.FloatAccuracy,
		ElapsedS: s.Elapsed.Seconds(), Overhead: s.Overhead(), Front: []frontRow{},
		ReportCommand: reportCommand(a, s.Study.Name)}
	if s.Elapsed > 0 {
		d.TrialsPerMinute = float64(s.Ran) / s.Elapsed.Minutes()
	}
	if s.Done < s.Target {
		d.ResumeCommand = resumeCommand(a, s.Study.Name)
	}
	front := append([]studies.Trial(nil), s.Front...)
	sortFront(front, s.Study.Objectives)
	for _, t := range front {
		d.Front = append(d.Front, frontRowOf(t, s.Study.Objectives))
	}
	return d
}

func frontRowOf(t studies.Trial, objs []studies.Objective) frontRow {
	r := frontRow{Trial: t.Number, Values: map[string]float64{}, Knobs: map[string]any{}}
	for i, o := range objs {
		if i < len(t.Values) {
			r.Values[o.Name] = t.Values[i]
		}
	}
	for _, p := range t.Params {
		r.Knobs[p.Name] = paramValue(p)
	}
	return r
}

// printOutcome prints the study's Pareto front as a table and the command for its
// report.
func printOutcome(a *app, s tuner.Summary) error {
	front := append([]studies.Trial(nil), s.Front...)
	sortFront(front, s.Study.Objectives)
	pruned := ""
	if s.Pruned > 0 {
		pruned = fmt.Sprintf(", %d pruned", s.Pruned)
	}
	fmt.Fprintf(a.stdout, "study %s: %d of %d trials done (%d complete, %d failed%s); float accuracy %.4f\n",
		s.Study.Name, s.Done, s.Target, s.Complete, s.Failed, pruned, s.FloatAccuracy)
	if len(front) == 0 {
		fmt.Fprintln(a.stdout, "Pareto front: empty (no complete trials)")
	} else {
		fmt.Fprintf(a.stdout, "Pareto front (%d trials; \"(+k)\": k more trials with the same values):\n", len(front))
		if err := printFrontTable(a, front, s.Study.Objectives); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(a.stdout, "report: %s\n", reportCommand(a, s.Study.Name))
	return err
}

// printFrontTable prints trials with their objective values and searched knobs.
func printFrontTable(a *app, front []studies.Trial, objs []studies.Objective) error {
	var knobs []string
	for _, name := range tuner.KnobNames() {
		for _, t := range front {
			if p, ok := t.Param(name); ok && !bytes.Contains(p.Distribution, []byte(`"fixed"`)) {
				knobs = append(knobs, name)
				break
			}
		}
	}
	w := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	head := []string{"TRIAL"}
	for _, o := range objs {
		head = append(head, strings.ToUpper(o.Name))
	}
	for _, k := range knobs {
		head = append(head, strings.ToUpper(k))
	}
	fmt.Fprintln(w, strings.Join(head, "\t"))
	for i := 0; i < len(front); i++ {
		t := front[i]
		// Trials with the same values (often the same circuit reached by knobs that do not
		// matter, such as rounding above the accumulator width) are shown once.
		same := 0
		for i+1 < len(front) && slices.Equal(front[i+1].Values, t.Values) {
			i++
			same++
		}
		cell := fmt.Sprint(t.Number)
		if same > 0 {
			cell += fmt.Sprintf(" (+%d)", same)
		}
		row := []string{cell}
		for i, o := range objs {
			v := 0.0
			if i < len(t.Values) {
				v = t.Values[i]
			}
			row = append(row, objectiveText(o.Name, v))
		}
		all := tuner.KnobValues(t.Params)
		for _, k := range knobs {
			if p, ok := t.Param(k); ok && tuner.KnobApplies(k, all) {
				row = append(row, knobText(k, p.Value))
			} else {
				row = append(row, "-")
			}
		}
		fmt.Fprintln(w, strings.Join(row, "\t"))
	}
	return w.Flush()
}

func objectiveText(name string, v float64) string {
	switch {
	case strings.HasSuffix(name, "accuracy"):
		return fmt.Sprintf("%.4f", v)
	case strings.HasSuffix(name, "_ms"), strings.HasSuffix(name, "_mb"):
		return fmt.Sprintf("%.1f", v)
	}
	return formatValue(v)
}
