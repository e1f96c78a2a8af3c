package main

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/fhetune/fhetune/studies"
	"github.com/fhetune/fhetune/tuner"
)

// studyBestDoc is what `fhetune study best --json` prints.
type studyBestDoc struct {
	Study         string             `json:"study"`
	Rule          string             `json:"rule"`
	Trial         int                `json:"trial"`
	Values        map[string]float64 `json:"values"`
	Knobs         map[string]any     `json:"knobs"`
	FloatAccuracy *float64           `json:"float_accuracy"`
	AccuracyDrop  *float64           `json:"accuracy_drop"`
	ConfigCommand string             `json:"config_command"`
}

func newStudyBestCmd(a *app) *cobra.Command {
	var (
		maxDrop, maxLatency float64
		asJSON              bool
	)
	c := &cobra.Command{
		Use:   "best NAME [--max-accuracy-drop D | --max-latency-ms T]",
		Short: "Pick one trial: the fastest within an accuracy drop, or the most accurate within a latency",
		Long: `best picks one complete trial of a study: with --max-accuracy-drop D the fastest trial
whose accuracy is at most D (a share: 0.01 is one point) below the float model's; with
--max-latency-ms T the most accurate trial of latency at most T. Without either, the
study's constraint decides, or else the fastest trial within 1% of float accuracy.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fl := cmd.Flags()
			if fl.Changed("max-accuracy-drop") && fl.Changed("max-latency-ms") {
				return badInput("give --max-accuracy-drop or --max-latency-ms, not both")
			}
			var rule tuner.Rule
			switch {
			case fl.Changed("max-accuracy-drop"):
				if !(maxDrop >= 0 && maxDrop <= 1) {
					return badInput("--max-accuracy-drop %v: want a share in [0, 1] (0.01 is one point)", maxDrop)
				}
				rule.MaxAccuracyDrop = &maxDrop
			case fl.Changed("max-latency-ms"):
				if !(maxLatency > 0) || math.IsInf(maxLatency, 0) {
					return badInput("--max-latency-ms %v: want a positive number", maxLatency)
				}
				rule.MaxLatencyMS = &maxLatency
			}
			ctx := cmd.Context()
			store, err := a.openStore(ctx, true)
			if err != nil {
				return err
			}
			defer store.Close()
			st, err := store.Study(ctx, args[0])
			if err != nil {
				return storeError(err)
			}
			if rule.MaxAccuracyDrop == nil && rule.MaxLatencyMS == nil {
				spec, _ := tuner.ResumeSpec(st) // a study of another tool: the default rule
				rule = tuner.DefaultRule(spec)
			}
			floatAcc, haveFloat := studyFloatAccuracy(st)
			if rule.MaxAccuracyDrop != nil && !haveFloat {
				return fmt.Errorf("study %q: no float accuracy is recorded, so no accuracy drop can be measured; use --max-latency-ms", st.Name)
			}
			trials, err := store.Trials(ctx, st.ID, studies.TrialFilter{States: []studies.State{studies.Complete}})
			if err != nil {
				return err
			}
			t, err := tuner.Best(trials, st.Objectives, floatAcc, rule)
			if err != nil {
				if errors.Is(err, tuner.ErrNoPick) {
					return fmt.Errorf("study %q: %w", st.Name, err)
				}
				return err
			}
			row := frontRowOf(t, st.Objectives)
			doc := studyBestDoc{Study: st.Name, Rule: rule.String(), Trial: t.Number, Values: row.Values, Knobs: row.Knobs,
				ConfigCommand: "fhetune" + dbArg(a) + " study export-config " + shellQuote(st.Name) + " --trial " + strconv.Itoa(t.Number)}
			if haveFloat {
				doc.FloatAccuracy = &floatAcc
				if acc, ok := row.Values["accuracy"]; ok {
					drop := floatAcc - acc
					doc.AccuracyDrop = &drop
				}
			}
			if asJSON {
				return writeJSON(a.stdout, doc)
			}
			return printBest(a, doc, t, st.Objectives)
		},
	}
	fl := c.Flags()
	fl.Float64Var(&maxDrop, "max-accuracy-drop", 0, "the fastest trial at most this share below float accuracy (0.01: one point)")
	fl.Float64Var(&maxLatency, "max-latency-ms", 0, "the most accurate trial of latency_ms at most this")
	fl.BoolVar(&asJSON, "json", false, "print one JSON document")
	return c
}

// studyFloatAccuracy returns the base model's test accuracy recorded with the study.
func studyFloatAccuracy(st studies.Study) (float64, bool) {
	v, err := strconv.ParseFloat(st.UserAttrs[tuner.AttrFloatAccuracy], 64)
	return v, err == nil
}

func printBest(a *app, d studyBestDoc, t studies.Trial, objs []studies.Objective) error {
	line := fmt.Sprintf("trial %d:", d.Trial)
	for i, o := range objs {
		if i < len(t.Values) {
			sep := ","
			if i == len(objs)-1 || i == len(t.Values)-1 {
				sep = ""
			}
			line += fmt.Sprintf(" %s %s%s", o.Name, objectiveText(o.Name, t.Values[i]), sep)
		}
	}
	if d.FloatAccuracy != nil && d.AccuracyDrop != nil {
		line += fmt.Sprintf(" (float accuracy %.4f, drop %.2f%%)", *d.FloatAccuracy, 100**d.AccuracyDrop)
	}
	fmt.Fprintln(a.stdout, line)
	fmt.Fprintf(a.stdout, "rule: %s\n", d.Rule)
	fmt.Fprintf(a.stdout, "knobs: %s\n", paramsKnobText(t.Params))
	_, err := fmt.Fprintf(a.stdout, "Concrete ML config: %s\n", d.ConfigCommand)
	return err
}
