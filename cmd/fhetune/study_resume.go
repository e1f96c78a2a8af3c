package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/fhetune/fhetune/tuner"
)

func newStudyResumeCmd(a *app) *cobra.Command {
	var (
		trials, workers int
		timeout         time.Duration
		rf              studyRunFlags
	)
	c := &cobra.Command{
		Use:   "resume NAME [--trials N]",
		Short: "Continue a study that was stopped, interrupted or killed, or give it more trials",
		Long: `resume continues a study with the spec it was started with: RUNNING trials that no
live process runs any more (those of dead processes on this host at once, others after
--stale-after without a heartbeat) are failed and their knobs run again; numbering and
sampling continue where the study stopped; the base model stored with the study is
reused. --trials N sets the total number of trials the study ends with (resume a
finished 60-trial study with --trials 100 for 40 more).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runStoredStudy(cmd, a, args[0], trials, workers, timeout, rf)
		},
	}
	fl := c.Flags()
	fl.IntVar(&trials, "trials", 0, "total number of trials the study ends with (default: as last asked)")
	fl.IntVar(&workers, "workers", 0, "trials run at once by this process (default: the spec's)")
	fl.DurationVar(&timeout, "timeout", 0, "stop starting trials after this long (default: the spec's)")
	rf.register(fl)
	return c
}

// runStoredStudy runs the named study of the database from the spec stored with it (as
// study resume and study worker do), with the flags' trials, workers and timeout.
func runStoredStudy(cmd *cobra.Command, a *app, name string, trials, workers int, timeout time.Duration, rf studyRunFlags) error {
	ctx := cmd.Context()
	store, err := a.openStore(ctx, true)
	if err != nil {
		return err
	}
	defer store.Close()
	st, err := store.Study(ctx, name)
	if err != nil {
		return storeError(err)
	}
	spec, err := tuner.ResumeSpec(st)
	if err != nil {
		return err
	}
	if err := applyRunFlags(cmd, &spec, trials, workers, timeout); err != nil {
		return err
	}
	if rf.heartbeat <= 0 || rf.staleAfter <= 0 {
		return badInput("--heartbeat and --stale-after must be positive")
	}
	plan, err := tuner.NewPlan(spec)
	if err != nil {
		return planError(err)
	}
	if store.ReadOnly() {
		return fmt.Errorf("study %q: database %s is read-only", st.Name, a.dbName())
	}
	return runStudy(cmd, a, store, plan, rf)
}
