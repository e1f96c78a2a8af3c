package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/fhetune/fhetune/fhe/calibration"
	"github.com/fhetune/fhetune/fhe/executor"
	"github.com/fhetune/fhetune/tuner"
)

// verifyOutput is what `fhetune verify --json` prints: the comparison (its fields are
// the contract of DESIGN.md) and where the model came from.
type verifyOutput struct {
	tuner.VerifyResult
	Dataset   string `json:"dataset"`
	Model     string `json:"model"`
	ModelFile string `json:"model_file"`
	Seed      uint64 `json:"seed"`
}

type verifyFlags struct {
	evalFlags
	samples  int
	maxKeyMB float64
}

func newVerifyCmd(a *app) *cobra.Command {
	var f verifyFlags
	c := &cobra.Command{
		Use:   "verify --dataset NAME [--model SPEC | --model-file FILE] [knobs] [--samples N]",
		Short: "Run one knob setting under real TFHE encryption and compare it with the simulation and the latency model",
		Long: `verify compiles a knob setting exactly as eval does, makes the TFHE keys of every
crypto set it chose (and the keyswitching keys between them), and runs the first --samples
test samples encrypted with tfhe-go: levelled dot products, rounding (one bit-extraction
bootstrap per removed bit with exact rounding), every TLU as a programmable bootstrap with
the simulation's own tables, keyswitches between partitions. The client side quantizes,
encrypts, decrypts and takes the arg max.

It reports the encrypted accuracy against the simulated one on the same samples, the
agreement with the error-free integer circuit, the measured latency (median wall time of
one inference on --cores) against the calibrated model's, and the TLU errors seen by
decrypting every TLU output with the secret keys against the count the simulation
expects. Ctrl-C stops after the current sample and prints what was measured, marked
partial.`,
		Example: `  fhetune verify --dataset digits --model mlp --n-w-bits 3 --n-a-bits 3 --n-input-bits 4 \
      --pruning 0.7 --rounding-threshold-bits 4 --p-error 1e-9 --samples 5`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return runVerify(c.Context(), a, c, f) },
	}
	addEvalFlags(c, &f.evalFlags)
	fl := c.Flags()
	fl.Lookup("cores").Usage = "cores of key generation, of each inference's bootstraps and of the latency estimate (default: the cores the calibration measured)"
	fl.IntVar(&f.samples, "samples", 10, "test samples to run encrypted, at least 1")
	fl.Float64Var(&f.maxKeyMB, "max-key-mb", 0, "refuse keys larger than this many MB (default: what this machine's free memory holds)")
	return c
}

func runVerify(ctx context.Context, a *app, c *cobra.Command, f verifyFlags) error {
	if f.samples < 1 {
		return badInput("verify: --samples %d: want at least 1", f.samples)
	}
	if f.maxKeyMB < 0 {
		return badInput("verify: --max-key-mb %g below 0", f.maxKeyMB)
	}
	maxMB := f.maxKeyMB
	if maxMB == 0 {
		maxMB = calibration.AvailableMemory() / 1e6 * 0.8
	}
	task, env, eo, err := prepareEval(ctx, a, c, f.evalFlags, "verify")
	if err != nil {
		return err
	}
	progress := func(done, total int) {
		if done == 0 {
			fmt.Fprintf(a.stderr, "verify: keys made; running %d samples encrypted\n", total)
			return
		}
		fmt.Fprintf(a.stderr, "verify: sample %d/%d done\n", done, total)
	}
	res, err := tuner.Verify(ctx, env, task, f.knobs, tuner.VerifyOptions{Samples: f.samples, MaxKeyMB: maxMB, Progress: progress})
	switch {
	case errors.Is(err, executor.ErrKeysTooLarge):
		return badInput("verify: %w", err)
	case err != nil:
		return trialError("verify", err)
	}
	out := verifyOutput{VerifyResult: res, Dataset: eo.Dataset, Model: eo.Model, ModelFile: eo.ModelFile, Seed: eo.Seed}
	if f.asJSON {
		return writeJSON(a.stdout, out)
	}
	return writeVerify(a.stdout, out)
}

func writeVerify(w io.Writer, o verifyOutput) error {
	r := o.VerifyResult
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	partial := ""
	if r.Partial {
		partial = " (partial: stopped early)"
	}
	if o.Model != "" {
		fmt.Fprintf(tw, "model\t%s on %s (%s)\n", o.Model, o.Dataset, o.ModelFile)
	}
	fmt.Fprintf(tw, "samples\t%d run encrypted%s\n", r.Samples, partial)
	fmt.Fprintf(tw, "accuracy\t%.4f encrypted, %.4f simulated on the same samples\n", r.EncryptedAccuracy, r.SimulatedAccuracy)
	fmt.Fprintf(tw, "agreement\t%.4f of predictions equal the error-free circuit's\n", r.Agreement)
	fmt.Fprintf(tw, "latency\t%.1f ms measured (median), %.1f ms predicted (%+.1f%%) on %d cores, calibration %s\n",
		r.LatencyMSMeasured, r.LatencyMSPredicted, 100*r.LatencyError, r.Cores, r.Calibration)
	if len(r.SetSpeeds) > 0 {
		fmt.Fprintf(tw, "at set speed\t%.1f ms predicted (%+.1f%%) with the sets' times measured just before each inference:\n",
			r.LatencyMSAtSetSpeed, 100*r.LatencyErrorAtSetSpeed)
		for _, sp := range r.SetSpeeds {
			fmt.Fprintf(tw, "\t  %v: %.2f ms measured, %.2f ms in the profile (×%.2f)", sp.Set, sp.MeasuredMS, sp.PredictedMS, sp.MeasuredMS/sp.PredictedMS)
			if sp.MeasuredAllCoresMS > 0 {
				fmt.Fprintf(tw, "; on all cores at once %.2f ms, %.2f ms in the profile (×%.2f)",
					sp.MeasuredAllCoresMS, sp.PredictedAllCoresMS, sp.MeasuredAllCoresMS/sp.PredictedAllCoresMS)
			}
			fmt.Fprintln(tw)
		}
	}
	if driftNote(r) {
		fmt.Fprintf(tw, "note\tthe latency misses by more than %.0f%% only at the profile's speed: this machine now runs\n", 100*latencyGoal)
		fmt.Fprintf(tw, "\tthe circuit's sets at another speed than when calibration %s was made (run fhetune calibrate again)\n", r.Calibration)
	}
	fmt.Fprintf(tw, "TLU errors\t%d seen, %.3g expected\n", r.TLUErrors, r.ExpectedTLUErrors)
	fmt.Fprintf(tw, "keys\t%.1f MB, made in %.0f ms\n\n", r.KeyMB, r.KeygenMS)
	if err := tw.Flush(); err != nil {
		return err
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "layer\tbootstraps\tmeasured ms\tpredicted ms\tTLU errors\texpected\t\n")
	for _, l := range r.Layers {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t%d\t%.3g\t\n", l.Name, l.Bootstraps, l.MeasuredMS, l.PredictedMS, l.TLUErrors, l.ExpectedTLUErrors)
	}
	return tw.Flush()
}

// latencyGoal is how far a measured latency may stray from the predicted one (±15%,
// the goal verify is checked against).
const latencyGoal = 0.15

// driftNote reports whether a verification missed the latency goal against the
// profile but met it at the speed its sets ran at just before each inference: the
// machine's speed moved since calibration, not the model of the circuit.
func driftNote(r tuner.VerifyResult) bool {
	return len(r.SetSpeeds) > 0 && math.Abs(r.LatencyError) > latencyGoal && math.Abs(r.LatencyErrorAtSetSpeed) <= latencyGoal
}
