package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fhetune/fhetune/fhe/calibration"
	"github.com/fhetune/fhetune/fhe/executor"
	"github.com/fhetune/fhetune/tuner"
)

func newStudyVerifyCmd(a *app) *cobra.Command {
	var (
		trial    = -1
		samples  int
		maxKeyMB float64
		asJSON   bool
	)
	c := &cobra.Command{
		Use:   "verify NAME --trial K [--samples N]",
		Short: "Run a complete trial under real TFHE encryption and store the result on it",
		Long: `study verify runs trial K of a study as "fhetune verify" runs a knob setting: with the
study's data split, base model and calibration profile and the trial's knobs, on the
first --samples test samples, encrypted with tfhe-go. It prints the comparison and stores
it on the trial (attribute "verified"), so that study show and study export show it.
A trial that is not complete, an unknown trial, keys over --max-key-mb or a sample count
below 1 exit 2 with nothing stored.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("trial") {
				return badInput("study verify: --trial is required (a trial number; see `fhetune study best %s`)", args[0])
			}
			if trial < 0 {
				return badInput("study verify: --trial %d: want a trial number (0 or more)", trial)
			}
			if samples < 1 {
				return badInput("study verify: --samples %d: want at least 1", samples)
			}
			if maxKeyMB < 0 {
				return badInput("study verify: --max-key-mb %g below 0", maxKeyMB)
			}
			if maxKeyMB == 0 {
				maxKeyMB = calibration.AvailableMemory() / 1e6 * 0.8
			}
			ctx := cmd.Context()
			store, err := a.openStore(ctx, true)
			if err != nil {
				return err
			}
			defer store.Close()
			progress := func(done, total int) {
				if done == 0 {
					fmt.Fprintf(a.stderr, "study verify: keys made; running %d samples encrypted\n", total)
					return
				}
				fmt.Fprintf(a.stderr, "study verify: sample %d/%d done\n", done, total)
			}
			res, err := tuner.VerifyTrial(ctx, store, args[0], trial, tuner.VerifyOptions{Samples: samples, MaxKeyMB: maxKeyMB, Progress: progress})
			switch {
			case errors.Is(err, tuner.ErrNotVerifiable), errors.Is(err, executor.ErrKeysTooLarge), errors.Is(err, tuner.ErrKnobs),
				errors.Is(err, tuner.ErrInfeasible), errors.Is(err, tuner.ErrTask):
				return badInput("study verify: %w", err)
			case err != nil:
				return storeError(err)
			}
			if asJSON {
				return writeJSON(a.stdout, res)
			}
			return writeVerify(a.stdout, verifyOutput{VerifyResult: res})
		},
	}
	c.Flags().IntVar(&trial, "trial", -1, "trial number (required)")
	c.Flags().IntVar(&samples, "samples", 10, "test samples to run encrypted, at least 1")
	c.Flags().Float64Var(&maxKeyMB, "max-key-mb", 0, "refuse keys larger than this many MB (default: what this machine's free memory holds)")
	c.Flags().BoolVar(&asJSON, "json", false, "print one JSON document")
	return c
}
