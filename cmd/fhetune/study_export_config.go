package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/fhetune/fhetune/studies"
	"github.com/fhetune/fhetune/tuner"
)

func newStudyExportConfigCmd(a *app) *cobra.Command {
	trial := -1
	c := &cobra.Command{
		Use:   "export-config NAME --trial K",
		Short: "Print a trial's knobs as Concrete ML compile arguments (JSON)",
		Long: `export-config prints, as one JSON document, what it takes to build trial K with Concrete
ML: compile_args for compile_torch_model (n_bits as an int or as the dict with
model_inputs, op_inputs, op_weights and model_outputs; rounding_threshold_bits, null for
none; p_error or global_p_error), the Configuration's security_level and
parameter_selection_strategy, and the pruning applied before compiling (structured share
and norm, unstructured sparsity, fine-tuning epochs, hidden widths before and after, and
the equivalent torch.nn.utils.prune calls), with the trial's objective values.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("trial") {
				return badInput("--trial is required (a trial number; see `fhetune study best %s`)", args[0])
			}
			if trial < 0 {
				return badInput("--trial %d: want a trial number (0 or more)", trial)
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
			t, err := store.TrialByNumber(ctx, st.ID, trial)
			if errors.Is(err, studies.ErrNoTrial) {
				return badInput("study %q has no trial %d", st.Name, trial)
			}
			if err != nil {
				return err
			}
			b, err := store.Artifact(ctx, st.ID, tuner.ArtifactBaseModel)
			if err != nil && !errors.Is(err, studies.ErrNoArtifact) {
				return err
			}
			base, err := tuner.BaseModel(b)
			if err != nil {
				return err
			}
			cfg, err := tuner.ConcreteConfigOf(st, t, base)
			if err != nil {
				if errors.Is(err, tuner.ErrNoPick) {
					return badInput("%v", err)
				}
				return err
			}
			return writeJSON(a.stdout, cfg)
		},
	}
	c.Flags().IntVar(&trial, "trial", -1, "trial number (required)")
	return c
}
