package main

import (
	"github.com/spf13/cobra"
)

func newStudyWorkerCmd(a *app) *cobra.Command {
	var (
		workers int
		rf      studyRunFlags
	)
	c := &cobra.Command{
		Use:   "worker NAME [--workers N]",
		Short: "Join a study and run its trials until it has its number of trials",
		Long: `worker joins a study that "study start" began, with the spec, base model and
calibration profile stored with it, and runs trials until the study has its number of
trials; it needs no spec file. Run any number of workers, on any machines, against one
PostgreSQL database (--db postgres://user@host/db) or, on one machine, one SQLite
file: trial numbers, claiming and the Pareto front are kept by the database. A worker
that dies leaves its trial RUNNING; the others fail it once its heartbeat is older than
--stale-after (at once for dead processes on their own host) and run its knobs again.
The study's data set must be readable where the worker runs (digits, breast-cancer
and fashion-mnist are built in; a csv:PATH must be the same file).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runStoredStudy(cmd, a, args[0], 0, workers, 0, rf)
		},
	}
	fl := c.Flags()
	fl.IntVar(&workers, "workers", 0, "trials run at once by this process (default: the spec's)")
	rf.register(fl)
	return c
}
