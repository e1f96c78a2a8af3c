package main

import (
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fhetune/fhetune/studies"
)

// newStudyCmd groups the study subcommands; each lives in its own study_*.go file.
func newStudyCmd(a *app) *cobra.Command {
	return groupCmd("study", "Create, run, inspect and delete studies",
		newStudyStartCmd(a),
		newStudyResumeCmd(a),
		newStudyWorkerCmd(a), newStudyCopyCmd(a),
		newStudyListCmd(a),
		newStudyShowCmd(a),
		newStudyBestCmd(a),
		newStudyExportCmd(a),
		newStudyExportConfigCmd(a),
		newStudyVerifyCmd(a),
		newStudyDeleteCmd(a),
	)
}

// formatValue prints an objective value with six significant digits.
func formatValue(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

// formatParams prints parameters as name=value pairs in stored order, knobs with a
// name for their value by that name (rounding_threshold_bits=off, rounding_method=exact).
func formatParams(ps []studies.Param) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		v := formatValue(p.Value)
		if s, ok := paramValue(p).(string); ok {
			v = s
		}
		parts[i] = p.Name + "=" + v
	}
	return strings.Join(parts, " ")
}

// formatObjectives prints "accuracy (maximize), latency_ms (minimize)".
func formatObjectives(objs []studies.Objective) string {
	parts := make([]string, len(objs))
	for i, o := range objs {
		parts[i] = o.Name + " (" + string(o.Direction) + ")"
	}
	return strings.Join(parts, ", ")
}

// sortFront orders front trials best first by the first objective, then by number.
func sortFront(front []studies.Trial, objs []studies.Objective) {
	sort.SliceStable(front, func(i, j int) bool {
		a, b := front[i], front[j]
		if len(objs) > 0 && len(a.Values) > 0 && len(b.Values) > 0 && a.Values[0] != b.Values[0] {
			if objs[0].Direction == studies.Maximize {
				return a.Values[0] > b.Values[0]
			}
			return a.Values[0] < b.Values[0]
		}
		return a.Number < b.Number
	})
}
