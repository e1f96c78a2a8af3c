package main

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fhetune/fhetune/studies"
)

// studyListItem is one element of `fhetune study list --json`.
type studyListItem struct {
	ID           int64               `json:"id"`
	Name         string              `json:"name"`
	Created      time.Time           `json:"created"`
	Objectives   []studies.Objective `json:"objectives"`
	Trials       studies.Counts      `json:"trials"`
	FrontSize    int                 `json:"front_size"`
	LastActivity time.Time           `json:"last_activity"`
	UserAttrs    map[string]string   `json:"user_attrs"`
}

func newStudyListCmd(a *app) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "list",
		Short: "List the studies in the database with their trial counts",
		Long: `List the studies in the database (--db) with their trial counts per state and the
size of their Pareto front. A missing database means no studies yet; it is not created.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.openStore(cmd.Context(), true)
			if errors.Is(err, studies.ErrNoDatabase) {
				if asJSON {
					return writeJSON(a.stdout, []studyListItem{})
				}
				_, err := fmt.Fprintf(a.stdout, "no studies yet (%v)\n", err)
				return err
			}
			if err != nil {
				return err
			}
			defer s.Close()
			list, err := s.Studies(cmd.Context())
			if err != nil {
				return err
			}
			items := make([]studyListItem, len(list))
			for i, st := range list {
				items[i] = studyListItem{ID: st.ID, Name: st.Name, Created: st.Created, Objectives: st.Objectives,
					Trials: st.Trials, FrontSize: st.FrontSize, LastActivity: st.LastActivity, UserAttrs: st.UserAttrs}
			}
			if asJSON {
				return writeJSON(a.stdout, items)
			}
			if len(items) == 0 {
				_, err := fmt.Fprintf(a.stdout, "no studies yet in %s\n", a.dbName())
				return err
			}
			w := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tTRIALS\tCOMPLETE\tRUNNING\tWAITING\tFAIL\tPRUNED\tFRONT\tOBJECTIVES\tLAST ACTIVITY")
			for _, it := range items {
				fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", it.Name, it.Trials.Total(),
					it.Trials.Complete, it.Trials.Running, it.Trials.Waiting, it.Trials.Fail, it.Trials.Pruned,
					it.FrontSize, formatObjectives(it.Objectives), it.LastActivity.Local().Format("2006-01-02 15:04:05"))
			}
			return w.Flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print one JSON document (an array of studies)")
	return c
}
