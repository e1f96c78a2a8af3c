package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fhetune/fhetune/studies"
)

func newStudyCopyCmd(a *app) *cobra.Command {
	var from, to string
	c := &cobra.Command{
		Use:   "copy NAME --from DB --to DB",
		Short: "Copy a study with its trials, attributes, artifacts and front to another database",
		Long: `copy copies a study, whole, from one study database to another: its spec,
objectives and attributes, its artifacts (base model, calibration profile), every trial
with its number, state, knobs, values and attributes, and its Pareto front, as Optuna's
copy_study does. Either database may be an SQLite file or a postgres:// URL; --to is
created if it does not exist. The copy is one transaction: the destination gets all of
the study or nothing. A study of the same name in --to is refused.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if from == "" || to == "" {
				return badInput("give both --from and --to")
			}
			ctx := cmd.Context()
			src, err := studies.Open(ctx, from, studies.MustExist())
			if err != nil {
				return storeError(err)
			}
			defer src.Close()
			if _, err := src.Study(ctx, args[0]); err != nil {
				return storeError(err)
			}
			dst, err := studies.Open(ctx, to)
			if err != nil {
				return storeError(err)
			}
			defer dst.Close()
			st, err := studies.CopyStudy(ctx, src, dst, args[0])
			if err != nil {
				return storeError(err)
			}
			sum, err := dst.Summary(ctx, st.Name)
			if err != nil {
				return err
			}
			if err := dst.Close(); err != nil {
				return err
			}
			_, err = fmt.Fprintf(a.stdout, "copied study %q (%d trials, front of %d) from %s to %s\n", st.Name,
				sum.Trials.Total(), sum.FrontSize, studies.RedactURL(from), studies.RedactURL(to))
			return err
		},
	}
	c.Flags().StringVar(&from, "from", "", "database that holds the study (SQLite file or postgres:// URL)")
	c.Flags().StringVar(&to, "to", "", "database to copy it to (SQLite file or postgres:// URL)")
	return c
}
