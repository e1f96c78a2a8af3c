package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newStudyDeleteCmd(a *app) *cobra.Command {
	var yes bool
	c := &cobra.Command{
		Use:   "delete NAME --yes",
		Short: "Delete a study with all its trials, front and artifacts",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if !yes {
				return badInput("study delete %q: deleting a study cannot be undone; add --yes to confirm", name)
			}
			ctx := cmd.Context()
			s, err := a.openStore(ctx, true)
			if err != nil {
				return err
			}
			defer s.Close()
			sum, err := s.Summary(ctx, name)
			if err != nil {
				return storeError(err)
			}
			if err := s.DeleteStudy(ctx, name); err != nil {
				return storeError(err)
			}
			if err := s.Close(); err != nil {
				return err
			}
			_, err = fmt.Fprintf(a.stdout, "deleted study %q (%d trials) from %s\n", name, sum.Trials.Total(), a.dbName())
			return err
		},
	}
	c.Flags().BoolVar(&yes, "yes", false, "confirm the deletion")
	return c
}
