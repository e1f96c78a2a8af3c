package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"
)

// app holds what every subcommand shares: the global flags and the output streams.
type app struct {
	dbPath  string
	stdout  io.Writer
	stderr  io.Writer
	log     *slog.Logger
	started bool // set once flags and arguments were accepted and a command began to run
}

func newApp(stdout, stderr io.Writer) *app {
	return &app{
		stdout: stdout,
		stderr: stderr,
		log:    slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
}

// defaultDBPath is fhetune.db unless FHETUNE_DB names another default.
func defaultDBPath() string {
	if p := os.Getenv("FHETUNE_DB"); p != "" {
		return p
	}
	return "fhetune.db"
}

func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "fhetune",
		Short: "Tune neural networks for encrypted inference under TFHE",
		Long: `fhetune sweeps quantization bits, pruning, accumulator rounding and p_error,
measures each trial's accuracy by exact integer simulation with FHE's errors injected
and its latency by a calibrated PBS cost model, and keeps studies in SQLite.`,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			a.started = true
			return nil
		},
	}
	root.PersistentFlags().StringVar(&a.dbPath, "db", defaultDBPath(),
		"study database: an SQLite file, or a postgres:// URL; FHETUNE_DB sets the default")
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newVersionCmd(a),
		newStudyCmd(a),
		newParamsCmd(a),
		newModelCmd(a),
		newCalibrateCmd(a),
		newEvalCmd(a),
		newVerifyCmd(a),
		newSearchCmd(a),
		newReportCmd(a),
	)
	return root
}

// groupCmd returns a command that only holds subcommands; an unknown subcommand is a
// usage error.
func groupCmd(use, short string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{
		Use:   use,
		Short: short,
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				return badInput("unknown command %q for %q", args[0], c.CommandPath())
			}
			return c.Help()
		},
	}
	c.AddCommand(subs...)
	return c
}

// writeJSON writes v as one indented JSON document followed by a newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
