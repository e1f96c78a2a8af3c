package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/fhetune/fhetune/fhe/calibration"
	"github.com/fhetune/fhetune/studies"
	"github.com/fhetune/fhetune/tuner"
)

// studyShowDoc is what `fhetune study show NAME --json` prints: the study, its trial
// counts, artifacts and Pareto front (best first by the first objective).
type studyShowDoc struct {
	studies.StudySummary
	Artifacts []studies.ArtifactInfo `json:"artifacts"`
	Front     []showTrial            `json:"front"`
	// Verified lists the trials run encrypted by `study verify`, by number.
	Verified []verifiedTrial `json:"verified"`
	// Pruned lists the trials whose training the study's pruner stopped, by number.
	Pruned []prunedTrial `json:"pruned"`
}

// prunedTrial is a pruned trial as study show prints it: its knobs, why its training
// stopped, and the validation accuracy of each epoch it trained.
type prunedTrial struct {
	Number       int               `json:"number"`
	Knobs        map[string]any    `json:"knobs"`
	Pruned       tuner.PrunedError `json:"pruned"`
	Intermediate map[int]float64   `json:"intermediate,omitempty"`
	params       []studies.Param   // for the text form
}

// verifiedTrial is a trial's encrypted verification as study show prints it.
type verifiedTrial struct {
	Number int `json:"number"`
	tuner.VerifyResult
}

// showTrial is a front trial of `study show --json`: the stored trial, and its knobs as
// the other commands print them (rounding_threshold_bits "off", rounding_method by name).
type showTrial struct {
	studies.Trial
	Knobs map[string]any `json:"knobs"`
}

func newStudyShowCmd(a *app) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a study: objectives, trial counts, artifacts and Pareto front",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := a.openStore(ctx, true)
			if err != nil {
				return err
			}
			defer s.Close()
			sum, err := s.Summary(ctx, args[0])
			if err != nil {
				return storeError(err)
			}
			doc := studyShowDoc{StudySummary: sum}
			if doc.Artifacts, err = s.Artifacts(ctx, sum.ID); err != nil {
				return err
			}
			front, err := s.ParetoFront(ctx, sum.ID)
			if err != nil {
				return err
			}
			if doc.Artifacts == nil {
				doc.Artifacts = []studies.ArtifactInfo{}
			}
			sortFront(front, sum.Objectives)
			doc.Front = make([]showTrial, len(front))
			for i, t := range front {
				doc.Front[i] = showTrial{Trial: t, Knobs: frontRowOf(t, sum.Objectives).Knobs}
			}
			done, err := s.Trials(ctx, sum.ID, studies.TrialFilter{States: []studies.State{studies.Complete}})
			if err != nil {
				return err
			}
			doc.Verified = []verifiedTrial{}
			for _, t := range done {
				if v, ok := tuner.Verified(t); ok {
					doc.Verified = append(doc.Verified, verifiedTrial{Number: t.Number, VerifyResult: v})
				}
			}
			if doc.Pruned, err = prunedTrials(ctx, s, sum); err != nil {
				return err
			}
			if asJSON {
				return writeJSON(a.stdout, doc)
			}
			return printStudy(a, doc)
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print one JSON document")
	return c
}

func printStudy(a *app, d studyShowDoc) error {
	w := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "study\t%s (id %d)\n", d.Name, d.ID)
	fmt.Fprintf(w, "created\t%s\n", d.Created.Local().Format("2006-01-02 15:04:05"))
	fmt.Fprintf(w, "last activity\t%s\n", d.LastActivity.Local().Format("2006-01-02 15:04:05"))
	fmt.Fprintf(w, "objectives\t%s\n", formatObjectives(d.Objectives))
	t := d.Trials
	fmt.Fprintf(w, "trials\t%d (complete %d, running %d, waiting %d, fail %d, pruned %d)\n",
		t.Total(), t.Complete, t.Running, t.Waiting, t.Fail, t.Pruned)
	keys := make([]string, 0, len(d.UserAttrs))
	for k := range d.UserAttrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "attr %s\t%s\n", k, d.UserAttrs[k])
	}
	for _, art := range d.Artifacts {
		fmt.Fprintf(w, "artifact %s\t%d bytes\n", art.Name, art.Size)
	}
	if len(d.Spec) > 0 {
		var buf bytes.Buffer
		if json.Compact(&buf, d.Spec) == nil {
			fmt.Fprintf(w, "spec\t%s\n", buf.String())
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if len(d.Front) == 0 {
		_, err := fmt.Fprintln(a.stdout, "\nPareto front: empty (no complete trials yet)")
		return err
	}
	fmt.Fprintf(a.stdout, "\nPareto front: %d trials\n", len(d.Front))
	w = tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	head := []string{"TRIAL"}
	for _, o := range d.Objectives {
		head = append(head, strings.ToUpper(o.Name))
	}
	head = append(head, "PARAMS")
	fmt.Fprintln(w, strings.Join(head, "\t"))
	for _, tr := range d.Front {
		row := []string{fmt.Sprint(tr.Number)}
		for _, v := range tr.Values {
			row = append(row, formatValue(v))
		}
		row = append(row, formatParams(tr.Params))
		fmt.Fprintln(w, strings.Join(row, "\t"))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := printPruned(a, d.Pruned); err != nil {
		return err
	}
	if len(d.Verified) == 0 {
		return nil
	}
	fmt.Fprintf(a.stdout, "\nVerified under encryption (fhetune study verify): %d trials\n", len(d.Verified))
	w = tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "TRIAL\tSAMPLES\tENCRYPTED_ACCURACY\tAGREEMENT\tLATENCY_MS_MEASURED\tLATENCY_MS_PREDICTED\tSETS_SPEED\tTLU_ERRORS\tEXPECTED")
	for _, v := range d.Verified {
		partial := ""
		if v.Partial {
			partial = " (partial)"
		}
		// How much slower than the profile's the circuit's sets ran when timed alone
		// during the run (the median over the sets).
		speed := "-"
		if len(v.SetSpeeds) > 0 {
			r := make([]float64, len(v.SetSpeeds))
			for i, sp := range v.SetSpeeds {
				r[i] = sp.MeasuredMS / sp.PredictedMS
			}
			speed = fmt.Sprintf("×%.2f", calibration.Median(r))
		}
		fmt.Fprintf(w, "%d\t%d%s\t%.4f\t%.4f\t%.1f\t%.1f\t%s\t%d\t%.3g\n", v.Number, v.Samples, partial, v.EncryptedAccuracy,
			v.Agreement, v.LatencyMSMeasured, v.LatencyMSPredicted, speed, v.TLUErrors, v.ExpectedTLUErrors)
	}
	return w.Flush()
}

// prunedTrials reads the study's PRUNED trials (none without reading when it has none).
func prunedTrials(ctx context.Context, s *studies.Store, sum studies.StudySummary) ([]prunedTrial, error) {
	out := []prunedTrial{}
	if sum.Trials.Pruned == 0 {
		return out, nil
	}
	ts, err := s.Trials(ctx, sum.ID, studies.TrialFilter{States: []studies.State{studies.Pruned}})
	if err != nil {
		return nil, err
	}
	for _, t := range ts {
		pe, ok, err := tuner.TrialPruning(t)
		if err != nil {
			return nil, err
		}
		if !ok {
			pe = tuner.PrunedError{Trial: t.Number}
		}
		out = append(out, prunedTrial{Number: t.Number, Knobs: frontRowOf(t, sum.Objectives).Knobs, Pruned: pe,
			Intermediate: t.Intermediate, params: t.Params})
	}
	return out, nil
}

// printPruned prints the pruned trials: the rule and the epoch each training stopped
// at, its best validation accuracy against the threshold the trainings that cost no
// more set, and the trial whose training was judged when it is another one.
func printPruned(a *app, ps []prunedTrial) error {
	if len(ps) == 0 {
		return nil
	}
	fmt.Fprintf(a.stdout, "\nPruned (training stopped early): %d trials\n", len(ps))
	w := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "TRIAL\tRULE\tEPOCH\tVAL_ACCURACY\tTHRESHOLD\tCOMPARABLE\tAS_TRIAL\tPARAMS")
	for _, p := range ps {
		as := "-"
		if p.Pruned.Trial != p.Number {
			as = fmt.Sprint(p.Pruned.Trial)
		}
		fmt.Fprintf(w, "%d\t%s\t%d\t%.4f\t%.4f\t%d\t%s\t%s\n", p.Number, p.Pruned.Rule, p.Pruned.Epoch, p.Pruned.ValAccuracy,
			p.Pruned.Threshold, p.Pruned.Comparable, as, formatParams(p.params))
	}
	return w.Flush()
}
