package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/fhetune/fhetune/tuner"
)

func newSearchCmd(a *app) *cobra.Command {
	return groupCmd("search", "Search one knob for a goal (Concrete ML's p_error search)",
		newSearchPErrorCmd(a),
	)
}

type searchPErrorFlags struct {
	evalFlags
	drop   float64
	global bool
}

func newSearchPErrorCmd(a *app) *cobra.Command {
	var f searchPErrorFlags
	c := &cobra.Command{
		Use:   "p-error --dataset NAME [--model SPEC | --model-file FILE] [knobs] --max-accuracy-drop D [--global]",
		Short: "Find the largest p_error whose accuracy stays within a drop of the error-free circuit's",
		Long: `p-error is Concrete ML's p_error search (BinarySearch in concrete.ml.search_parameters):
it finds the largest p_error (with --global, global_p_error) whose simulated accuracy
stays within --max-accuracy-drop of the error-free quantized accuracy of the knobs, the
value to pass to Concrete ML's compile.

It compiles the knobs once, as eval does, then bisects in log space between 2^-40 and
0.9: at each step it chooses the crypto sets for the p_error, simulates the circuit over
the test split with 5 error-injection seeds (--seed, --seed + 1, …) and compares their
mean accuracy with the error-free one. It stops when the bracket is within 10% or after
20 steps. The steps go to stderr as they run; the result reports the accuracy and the
estimated latency at the p_error found.`,
		Example: `  fhetune search p-error --dataset digits --model mlp --n-w-bits 4 --n-a-bits 4 \
      --rounding-threshold-bits 6 --max-accuracy-drop 0.01
  fhetune search p-error --dataset digits --n-w-bits 4 --n-a-bits 4 --rounding-threshold-bits 6 \
      --rounding-method approximate --max-accuracy-drop 0.02 --global --json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return runSearchPError(c.Context(), a, c, f) },
	}
	addEvalFlags(c, &f.evalFlags)
	fl := c.Flags()
	fl.Lookup("p-error").Usage = "not taken: the search finds p_error"
	fl.Lookup("global-p-error").Usage = "not taken: --global searches global_p_error"
	fl.Lookup("seed").Usage = "seed of the split, the default model's training and fine-tuning; the error injection uses it and the next 4"
	fl.Float64Var(&f.drop, "max-accuracy-drop", 0, "largest accuracy drop accepted below the error-free quantized accuracy, in [0, 1) (required; 0.01 is one point)")
	fl.BoolVar(&f.global, "global", false, "search global_p_error (the probability that one inference has any error) instead of p_error per TLU")
	return c
}

// check refuses the flags of a p_error search that eval would take.
func (f searchPErrorFlags) check(c *cobra.Command) error {
	const what = "search p-error"
	if !c.Flags().Changed("max-accuracy-drop") {
		return badInput("%s: --max-accuracy-drop is required (0.01 is one point of accuracy)", what)
	}
	if !(f.drop >= 0 && f.drop < 1) {
		return badInput("%s: --max-accuracy-drop %v outside [0, 1)", what, f.drop)
	}
	for _, name := range []string{"p-error", "global-p-error"} {
		if !c.Flags().Changed(name) {
			continue
		}
		if f.global {
			return badInput("%s: --%s conflicts with --global, which searches global_p_error", what, name)
		}
		if name == "p-error" {
			return badInput("%s: --p-error is what the search finds; leave it out", what)
		}
		return badInput("%s: --global-p-error conflicts with searching p_error; use --global to search global_p_error", what)
	}
	return nil
}

func runSearchPError(ctx context.Context, a *app, c *cobra.Command, f searchPErrorFlags) error {
	if err := f.check(c); err != nil {
		return err
	}
	task, env, eo, err := prepareEval(ctx, a, c, f.evalFlags, "search p-error")
	if err != nil {
		return err
	}
	knob := searchedKnob(f.global)
	step := 0
	progress := func(s tuner.PErrorStep) {
		step++
		fmt.Fprintf(a.stderr, "search p-error: step %d: %s %.3g: %s\n", step, knob, s.PError, stepOutcome(s))
	}
	res, err := tuner.SearchPError(ctx, env, task, f.knobs, tuner.PErrorSearch{MaxAccuracyDrop: f.drop, Global: f.global, Progress: progress})
	if err != nil {
		return trialError("search p-error", err)
	}
	if !res.Converged {
		// Concrete ML warns alike (ConvergenceWarning).
		fmt.Fprintf(a.stderr, "search p-error: not converged in %d steps: a larger %s may meet the drop\n", res.Evaluations, knob)
	}
	if f.asJSON {
		return writeJSON(a.stdout, res)
	}
	return writeSearchPError(a.stdout, eo, f.drop, res)
}

// searchedKnob names the knob a search finds.
func searchedKnob(global bool) string {
	if global {
		return "global_p_error"
	}
	return "p_error"
}

// stepOutcome says how one step of the search ended.
func stepOutcome(s tuner.PErrorStep) string {
	switch {
	case s.Infeasible:
		return "no crypto parameters (too small)"
	case s.Accepted:
		return fmt.Sprintf("accuracy %.4f, accepted", s.Accuracy)
	}
	return fmt.Sprintf("accuracy %.4f, refused", s.Accuracy)
}

func writeSearchPError(w io.Writer, o evalOutput, drop float64, r tuner.PErrorResult) error {
	knob := searchedKnob(r.Global)
	fmt.Fprintf(w, "%s search on %s (%s): error-free accuracy %.4f, max drop %g\n\n", knob, o.Model, o.Dataset, r.Reference, drop)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "step\t%s\taccuracy\tdrop\tlatency ms\taccepted\t\n", knob)
	for i, s := range r.History {
		if s.Infeasible {
			fmt.Fprintf(tw, "%d\t%.3g\t-\t-\t-\tno crypto parameters\t\n", i+1, s.PError)
			continue
		}
		ok := "no"
		if s.Accepted {
			ok = "yes"
		}
		fmt.Fprintf(tw, "%d\t%.3g\t%.4f\t%.4f\t%.1f\t%s\t\n", i+1, s.PError, s.Accuracy, r.Reference-s.Accuracy, s.LatencyMS, ok)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%s %.3g: accuracy %.4f (%.4f below the error-free), latency %.1f ms, %d evaluations\n",
		knob, r.PError, r.Accuracy, r.Reference-r.Accuracy, r.LatencyMS, r.Evaluations)
	return err
}
